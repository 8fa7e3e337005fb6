"""The sentence ranker scanning every sentence, or only the candidate chunks' sentences.

    python benchmarks/sentence_bound.py [--sets dev own corpus]

Below ``[index] exact_below`` sentences the sentence ranker scores every sentence vector; above,
only the sentences of the chunks the dense and BM25 rankers put among their candidates, so that
its cost does not grow with the corpus. This runs every gold question both ways on the same
index (the bounded way forced by ``exact_below = 0``) and reports retrieval hit@1/3/5 and MRR@10
over answerable questions, answer exact match and token F1, abstention, and the median ``ask``
time. The corpus-scale section shows what the bound is worth at 10k-100k chunks.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
from int8 import ANSWERS, RETRIEVAL, SETS, gold_set


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    args = parser.parse_args()
    os.chdir(common.ROOT)
    work = common.work_dir()
    os.environ.update(common.base_env())

    from rag.config import load_settings
    from rag.embedding.models import onnx_embedder
    from rag.engine.service import QAService
    from rag.eval.metrics import evaluate

    common.print_header("Sentence ranker: every sentence scanned, or the candidate chunks' sentences only")
    embedder = onnx_embedder("all-MiniLM-L6-v2", "onnx-int8", 32, work / "int8-models")
    rows: list[list[object]] = []
    results: dict[str, Any] = {}
    for name in args.sets:
        seeds, gold = gold_set(name, work / "sentence-bound-docs")
        index = work / f"sentence-bound-index-{name}"
        shutil.rmtree(index, ignore_errors=True)
        env = {**os.environ, "RAG_PATHS__SEEDS": seeds, "RAG_PATHS__INDEX": str(index),
               **common.NO_CACHE}
        scanned = QAService.open(load_settings(environ=env), embedder=embedder)
        bounded = QAService(load_settings(environ={**env, "RAG_INDEX__EXACT_BELOW": "0"}), embedder, scanned.data)
        assert scanned.retriever.scan_every_sentence and not bounded.retriever.scan_every_sentence
        figures: dict[str, dict[str, float]] = {}
        for way, service in (("every sentence", scanned), ("candidates' sentences", bounded)):
            report = evaluate(service, gold)
            summary = report.summary
            ask_ms = statistics.median(o.latency_ms for o in report.outcomes)
            figures[way] = {**summary["answerable"], **{k: summary["all"][k] for k in ANSWERS[2:]},
                            "ask_ms": ask_ms}
            rows.append([name, way, len(gold), len(scanned.data.sentences),
                         *(figures[way][k] for k in RETRIEVAL + ANSWERS), ask_ms])
        delta = {k: figures["candidates' sentences"][k] - figures["every sentence"][k] for k in RETRIEVAL + ANSWERS}
        rows.append([name, "candidates - every", "", "", *(delta[k] for k in RETRIEVAL + ANSWERS), ""])
        results[name] = {"figures": figures, "delta": delta}
    print(common.table(["set", "sentences scored", "questions", "sentences", *RETRIEVAL, *ANSWERS,
                        "ask median ms"], rows))
    print("\nOne index per set (onnx-int8), question cache off; the same reader model both ways. "
          "On these small corpora the service scans every sentence (fewer than [index] exact_below); "
          "the bounded rows show what a corpus above that threshold gives up.")
    common.save_result("sentence_bound", {"results": results})


if __name__ == "__main__":
    main()
