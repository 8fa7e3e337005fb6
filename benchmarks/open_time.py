"""Opening an index: what a load costs now that BM25 and term sets are saved with the build.

    python benchmarks/open_time.py [--sizes 1000 10000] [--repeat 3]

For each size, that many generated chunk-length passages (the indexing benchmark's: random
sentences of the seed documents, ~100-190 tiktoken tokens) become one document each, are
chunked and indexed with random 384-d vectors (vectors do not change what an open costs, and
the model would take minutes per size), then opened ``repeat`` times. Reported, median of the
repeats:

- build: chunking plus ``IndexStore.save``, which now also computes and writes BM25 and the
  term sets (``save_lexical``; its own share is shown);
- ``IndexStore.load``: checksums, decoding, FAISS, vectors, and the saved BM25/term sets;
- BM25 before: ``LexicalIndex(chunk texts)``, what every open computed until now;
- term sets: every sentence's and clause's set read from the saved tables, against
  ``frozenset(content_terms(text))`` for each (what answer extraction computes at open);
- ``QAService`` construction on the loaded data (retriever and answerer), and the whole open.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
from indexing import passages

DIM = 384


class RandomEmbedder:
    """Unit vectors seeded by each text's hash: deterministic and free, for timing opens."""

    name = "random-384"
    dim = DIM

    def embed(self, texts: Sequence[str]) -> Any:
        import numpy as np

        out = np.empty((len(texts), DIM), dtype=np.float32)
        for row, text in enumerate(texts):
            seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
            out[row] = np.random.default_rng(seed).standard_normal(DIM, dtype=np.float32)
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    def count_word_pieces(self, text: str) -> int:
        return int(len(text.split()) * 1.3) + 1


def median_s(fn: Callable[[], object], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def measure(size: int, repeat: int, work: Path) -> dict[str, float]:
    import rag.index.store as store_module
    from rag.config import load_settings
    from rag.documents.loading import load_documents
    from rag.engine.service import QAService
    from rag.index.build import build_index, fingerprint_for
    from rag.index.lexical import LexicalIndex, save_lexical
    from rag.index.store import IndexStore
    from rag.text.normalize import content_terms

    embedder = RandomEmbedder()
    seeds, index = work / f"open-seeds-{size}", work / f"open-index-{size}"
    shutil.rmtree(seeds, ignore_errors=True)
    shutil.rmtree(index, ignore_errors=True)
    seeds.mkdir(parents=True)
    for i, text in enumerate(passages(size, seed=size)):
        (seeds / f"p{i:07d}.txt").write_text(text + "\n", encoding="utf-8")
    settings = load_settings(environ={**os.environ, "RAG_PATHS__SEEDS": str(seeds), "RAG_PATHS__INDEX": str(index)})
    documents, _ = load_documents(seeds)
    store = IndexStore(index)

    saving: list[float] = []

    def timed_save_lexical(*a: Any, **k: Any) -> None:
        started = time.perf_counter()
        save_lexical(*a, **k)
        saving.append(time.perf_counter() - started)

    store_module.save_lexical = timed_save_lexical  # type: ignore[assignment]
    try:
        started = time.perf_counter()
        build_index(store, settings, embedder, documents)
        build = time.perf_counter() - started
    finally:
        store_module.save_lexical = save_lexical  # type: ignore[assignment]

    expected = fingerprint_for(settings, embedder, documents)
    data = store.load(expected)
    chunks, sentences, clauses = data.chunks, data.sentences, data.clauses
    return {
        "chunks": len(chunks),
        "sentences": len(sentences),
        "clauses": len(clauses),
        "build_s": build,
        "save_lexical_s": saving[0],
        "load_s": median_s(lambda: store.load(expected), repeat),
        "bm25_before_s": median_s(lambda: LexicalIndex([c.text for c in chunks]), repeat),
        "terms_saved_s": median_s(
            lambda: [data.sentence_terms.terms(i) for i in range(len(sentences))], repeat),
        "terms_before_s": median_s(
            lambda: [frozenset(content_terms(s.text)) for s in sentences], repeat),
        "open_service_s": median_s(lambda: QAService(settings, embedder, store.load(expected)), repeat),  # type: ignore[arg-type]
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    os.chdir(common.ROOT)
    work = common.work_dir()
    os.environ.update(common.base_env())

    common.print_header("Opening an index")
    rows: list[list[object]] = []
    results: dict[str, dict[str, float]] = {}
    for size in args.sizes:
        f = results[str(size)] = measure(size, args.repeat, work)
        rows.append([f"{f['chunks']:,}", f"{f['sentences']:,}", f"{f['clauses']:,}", f["build_s"], f["save_lexical_s"],
                     f["load_s"], f["bm25_before_s"], f["terms_saved_s"], f["terms_before_s"], f["open_service_s"]])
        print("  " + " | ".join(str(v) for v in rows[-1]), file=sys.stderr, flush=True)
    print(common.table(
        ["chunks", "sentences", "clauses", "build s", "of it: save BM25 + terms s", "IndexStore.load s (all saved)",
         "BM25 computed at open (before) s", "term sets read s", "term sets computed (before) s",
         "whole open: load + QAService s"],
        rows,
    ))
    print(f"\nMedian of {args.repeat} opens. The whole open still includes answer extraction's own term "
          "computation until it reads the saved sets (IndexData.sentence_terms).")
    common.save_result("open_time", {"results": results})


if __name__ == "__main__":
    main()
