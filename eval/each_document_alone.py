"""The shipped reader on each corpus document indexed alone, against all of them indexed together.

    python eval/each_document_alone.py [--work /tmp/rag-each-document]

A user's seeds folder often holds one document (the article's sets are run that way), while
``rag fit`` reads the corpus documents indexed together. This asks every corpus gold question
both ways with the shipped model (rag/answering/model.json), the default embedder and the
question cache off, and prints the figures of all questions for each way.
"""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

from rag.config import load_settings
from rag.embedding.registry import create_embedder
from rag.engine.service import QAService
from rag.eval.fit import load_sets
from rag.eval.metrics import Outcome, evaluate, load_gold, summarize

FIGURES = ("token_f1", "citation_precision", "citation_recall", "hit@1", "hit@3", "abstained_answerable",
           "abstained_unanswerable")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", type=Path, default=Path("/tmp/rag-each-document"))
    args = parser.parse_args()
    root = Path(__file__).resolve().parent.parent
    os.chdir(root)
    (corpus,) = [s for s in load_sets(root / "eval" / "sets.toml") if s.name == "corpus"]
    env = {**os.environ, "RAG_EMBEDDING__QUERY_CACHE_SIZE": "0", "RAG_ANSWERING__ANSWER_CACHE_SIZE": "0"}

    def opened(seeds: Path, index: Path) -> QAService:
        settings = load_settings(environ={**env, "RAG_PATHS__SEEDS": str(seeds), "RAG_PATHS__INDEX": str(index)})
        return QAService.open(settings, embedder=embedder)

    e = load_settings(environ=env).embedding
    embedder = create_embedder(e.model, e.backend, e.batch_size, str(args.work), threads=e.threads)
    docs = Path(corpus.seeds)
    together = opened(docs, args.work / "together")
    outcomes: dict[str, list[Outcome]] = {"together": [], "alone": []}
    for gold in corpus.gold:
        items = load_gold(Path(gold))
        outcomes["together"] += evaluate(together, items).outcomes
        seeds = args.work / f"seeds-{Path(gold).stem}"
        shutil.rmtree(seeds, ignore_errors=True)
        seeds.mkdir(parents=True)
        for doc in docs.iterdir():
            if doc.stem == Path(gold).stem:
                shutil.copy(doc, seeds / doc.name)
        outcomes["alone"] += evaluate(opened(seeds, args.work / f"index-{Path(gold).stem}"), items).outcomes
    for way, found in outcomes.items():
        figures = summarize(found)["all"]
        print(f"{way:9s}", "  ".join(f"{name} {figures[name]:.3f}" for name in FIGURES))


if __name__ == "__main__":
    main()
