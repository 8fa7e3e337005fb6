"""What an index build costs per MB of text, stage by stage (the linguistic parse among them).

    python benchmarks/build_stages.py [--repeat 2]

Over the 26 eval/corpus documents and the seed article (real text of 13 genres), each stage of
the build path (``rag.index.build``) is timed on its own, in one process, with the default
settings and model (onnx-int8, the bulk session on every core):

- structure, sentences, chunks and clauses (``split_all`` without the analysis: block
  structure, segmentation, tiktoken chunk sizing, clause spans);
- the linguistic analysis (spaCy's en_core_web_sm parse of every sentence, and the answer
  candidates taken from it: ``rag.text.linguistics.analyse``);
- embedding every distinct chunk, sentence and clause text (``embed_rows``);
- saving the build (``IndexStore.save``: FAISS, BM25, term sets, checksums).

Reported: seconds (the best of ``--repeat`` runs, the model and spaCy loaded beforehand) and
seconds per MB of UTF-8 text.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
from int8 import readable_copy


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    os.chdir(common.ROOT)
    work = common.work_dir()
    os.environ.update(common.base_env())

    from rag.config import load_settings
    from rag.documents.loading import load_documents
    from rag.embedding.models import onnx_embedder
    from rag.index import build
    from rag.index.content import IndexContent
    from rag.index.store import IndexStore
    from rag.text.linguistics import pipeline

    common.print_header("Index build by stage, per MB of text (eval/corpus + seeds)")
    docs_dir = readable_copy(common.ROOT / "eval/corpus/docs", work / "build-stages-docs")
    for seed in (common.ROOT / "seeds").iterdir():
        shutil.copy(seed, docs_dir / seed.name)
    documents, _ = load_documents(docs_dir)
    megabytes = sum(len(d.text.encode("utf-8")) for d in documents) / 1e6
    settings = load_settings(environ={**os.environ, "RAG_PATHS__SEEDS": str(docs_dir)})
    embedder = onnx_embedder("all-MiniLM-L6-v2", "onnx-int8", 32, work / "int8-models")
    embedder.embed(["warm up"])
    pipeline()  # spaCy loaded before timing
    best: dict[str, float] = {}
    counts: dict[str, int] = {}

    def timed(stage: str, started: float) -> None:
        best[stage] = min(best.get(stage, float("inf")), time.perf_counter() - started)

    analysis = build.analyse
    analysed: list[float] = []

    def timed_analysis(sentences: list[Any]) -> list[Any]:  # the parse, timed inside split_all
        started = time.perf_counter()
        try:
            return analysis(sentences)
        finally:
            analysed.append(time.perf_counter() - started)

    build.analyse = timed_analysis
    for _ in range(args.repeat):
        analysed.clear()
        started = time.perf_counter()
        table = build.split_all(build.make_chunker(settings, embedder), documents)
        split = time.perf_counter() - started
        best["structure, sentences, chunks and clauses"] = min(
            best.get("structure, sentences, chunks and clauses", float("inf")), split - analysed[0]
        )
        best["linguistic analysis (spaCy parse + candidates)"] = min(
            best.get("linguistic analysis (spaCy parse + candidates)", float("inf")), analysed[0]
        )
        started = time.perf_counter()
        chunk_vectors, sentence_vectors, clause_vectors = build.embed_rows(settings, embedder, table)
        timed("embedding (chunks, sentences, clauses)", started)
        content = IndexContent(documents, table, chunk_vectors, sentence_vectors, clause_vectors)
        with tempfile.TemporaryDirectory(dir=work) as folder:
            started = time.perf_counter()
            IndexStore(Path(folder)).save(build.fingerprint_for(settings, embedder, documents), content, settings.index)
            timed("save", started)
        counts = {"documents": len(documents), "sentences": len(table.sentences), "clauses": len(table.clauses),
                  "chunks": len(table.chunks), "candidates": len(table.candidates)}
    total = sum(best.values())
    rows = [[stage, seconds, seconds / megabytes, seconds / total] for stage, seconds in best.items()]
    rows.append(["all stages", total, total / megabytes, 1.0])
    print(common.table(["stage", "seconds", "seconds per MB", "share"], rows))
    print(f"\n{megabytes:.3f} MB of UTF-8 text: {counts['documents']} documents, {counts['chunks']:,} chunks, "
          f"{counts['sentences']:,} sentences, {counts['clauses']:,} clauses, {counts['candidates']:,} answer "
          f"candidates; best of {args.repeat} runs, onnx-int8.")
    common.save_result("build_stages", {"megabytes": megabytes, "seconds": best, "counts": counts})


if __name__ == "__main__":
    main()
