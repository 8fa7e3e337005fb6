"""Sentence and clause vectors encoded one by one, or pooled from one forward pass per chunk.

    python benchmarks/pooling.py [--sets dev own corpus] [--backend onnx-int8]

For each gold set (the same sets as benchmarks/int8.py), the index is built both ways with the
same embedder (``[embedding] sentence_vectors`` = ``encoded`` / ``pooled``), timing the build,
and every question is answered (``rag.eval.metrics.evaluate``). Reported: build seconds,
retrieval hit@1/3/5 and MRR@10 over answerable questions, answer exact match and token F1,
abstention on unanswerable and answerable questions; and the cosine between the two ways'
sentence vectors.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
from int8 import ANSWERS, RETRIEVAL, SETS, gold_set


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    parser.add_argument("--backend", default="onnx-int8", choices=["onnx", "onnx-int8"])
    args = parser.parse_args()
    os.chdir(common.ROOT)
    work = common.work_dir()
    os.environ.update(common.base_env())

    import numpy as np

    from rag.config import load_settings
    from rag.embedding.models import onnx_embedder
    from rag.engine.service import QAService
    from rag.eval.metrics import evaluate

    common.print_header(f"Sentence vectors: encoded one by one or pooled from the chunk ({args.backend})")
    embedder = onnx_embedder("all-MiniLM-L6-v2", args.backend, 32, work / "int8-models")
    rows: list[list[object]] = []
    results: dict[str, Any] = {}
    for name in args.sets:
        seeds, gold = gold_set(name, work / "pooling-corpus-docs")
        figures: dict[str, dict[str, float]] = {}
        sentence_vectors = {}
        for way in ("encoded", "pooled"):
            index = work / f"pooling-index-{name}-{way}"
            shutil.rmtree(index, ignore_errors=True)
            env = {**os.environ, "RAG_PATHS__SEEDS": seeds, "RAG_PATHS__INDEX": str(index),
                   "RAG_EMBEDDING__SENTENCE_VECTORS": way}
            started = time.perf_counter()
            service = QAService.open(load_settings(environ=env), embedder=embedder)
            build = time.perf_counter() - started
            sentence_vectors[way] = service.data.sentence_vectors
            summary = evaluate(service, gold).summary
            figures[way] = {**summary["answerable"], **{k: summary["all"][k] for k in ANSWERS[2:]}, "build_s": build}
            rows.append([name, way, len(gold), len(service.data.chunks), build,
                         *(figures[way][k] for k in RETRIEVAL + ANSWERS)])
        delta = {k: figures["pooled"][k] - figures["encoded"][k] for k in RETRIEVAL + ANSWERS}
        rows.append([name, "pooled - encoded", "", "", figures["pooled"]["build_s"] - figures["encoded"]["build_s"],
                     *(delta[k] for k in RETRIEVAL + ANSWERS)])
        cosine = np.sum(sentence_vectors["encoded"] * sentence_vectors["pooled"], axis=1)
        results[name] = {"figures": figures, "delta": delta, "sentence_cosine_mean": float(cosine.mean())}
        print(f"  {name}: sentence vectors pooled vs encoded, mean cosine {cosine.mean():.3f}", file=sys.stderr)
    print(common.table(["set", "sentence vectors", "questions", "chunks", "index build s", *RETRIEVAL, *ANSWERS],
                       rows))
    cosines = ", ".join(f"{n} {r['sentence_cosine_mean']:.3f}" for n, r in results.items())
    print(f"\nBuild time includes chunking and saving. Mean cosine between a sentence's pooled and encoded "
          f"vectors: {cosines}. Abstention weights are the ones fitted (config/rag.toml) on encoded vectors.")
    common.save_result("pooling", {"results": results})


if __name__ == "__main__":
    main()
