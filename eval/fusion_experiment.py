"""Experiment (not part of the service): the reciprocal-rank constant of the hybrid retriever.

    RAG_PATHS__INDEX=<scratch> python eval/fusion_experiment.py                 # eval/sets.toml
    RAG_PATHS__INDEX=<index> RAG_PATHS__SEEDS=<folder> python eval/fusion_experiment.py A.jsonl ...

For every answerable gold question, the three rankings the retriever fuses (the chunk vectors,
the chunks' best sentences, BM25; 50 candidates each) are computed once, then fused with
``rrf_k`` in RRF_KS and equal weights by ``rag.retrieval.hybrid.reciprocal_rank_fusion``. Reported: hit@1,
hit@3 and hit@5 (a passage holding half of a gold evidence span) overall and by kind, and a
cross-validated choice: for each of five folds of documents, the ``rrf_k`` best on the other
four (sum of the three hits), measured on the fold. Given gold files, their questions are read
over the configured seeds and index instead (the unseen rounds: nothing is chosen on them).
Results in eval/EXPERIMENTS.md (2026-12-01, "Fusion: rrf_k").
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

import msgspec

from rag.config import load_settings
from rag.engine.service import QAService
from rag.eval.fit import group_of, load_sets
from rag.eval.metrics import GoldItem, load_gold, passage_hits, resolve_doc
from rag.eval.span_training import folds_of
from rag.retrieval.hybrid import reciprocal_rank_fusion

RRF_KS = (0, 1, 2, 3, 5, 10, 20, 60)
KINDS = ("fact", "paraphrase", "list", "how", "why", "definition")


class Rankings(msgspec.Struct):
    group: str  # the question's document
    kind: str
    rankings: list[list[int]]  # chunk ids, best first: dense, sentence, BM25
    hits: list[int]  # chunk ids that hold the evidence


def rankings_of(service: QAService, items: Sequence[GoldItem], group: str) -> list[Rankings]:
    retriever, documents = service.retriever, service.data.documents
    found = []
    for item in (i for i in items if i.answerable):
        vector = service.embed_question(item.question)
        dense = retriever.dense_ranking(vector, 50)
        sentence = retriever.sentence_ranking(vector, 50)
        lexical = retriever.bm25_ranking(item.question, 50)
        gold = [(resolve_doc(e, documents), e) for e in item.evidence]
        candidates = {*dense, *sentence, *lexical}
        search = retriever.search(item.question, vector, len(candidates) or 1)
        hits = [p.chunk_id for p in search if passage_hits(p, gold)]
        found.append(Rankings(item.doc or group, item.kind, [list(dense), list(sentence), list(lexical)], hits))
    return found


def hits_at(rows: Sequence[Rankings], rrf_k: int) -> tuple[float, float, float]:
    found = [1, 3, 5]
    counts = [0, 0, 0]
    for row in rows:
        order = list(reciprocal_rank_fusion(((ranking, 1.0) for ranking in row.rankings), rrf_k))
        first = next((i for i, c in enumerate(order[:10]) if c in row.hits), None)
        for n, at in enumerate(found):
            counts[n] += first is not None and first < at
    return tuple(c / max(len(rows), 1) for c in counts)  # type: ignore[return-value]


def main() -> None:
    settings = load_settings()
    rows: list[Rankings] = []
    if sys.argv[1:]:
        service = QAService.open(settings)
        for path in sys.argv[1:]:
            rows += rankings_of(service, load_gold(Path(path)), "unseen")
    else:
        for gold_set in load_sets(Path("eval/sets.toml")):
            paths = msgspec.structs.replace(
                settings.paths, seeds=gold_set.seeds, index=os.path.join(settings.paths.index, f"eval-{gold_set.name}")
            )
            service = QAService.open(msgspec.structs.replace(settings, paths=paths))
            items = [item for path in gold_set.gold for item in load_gold(Path(path))]
            rows += [r for item in items for r in rankings_of(service, [item], group_of(gold_set, item))]
    print(f"{len(rows)} answerable questions\n")
    print("| rrf_k | hit@1 | hit@3 | hit@5 | " + " | ".join(f"hit@1 {k}" for k in KINDS) + " |")
    print("|---" * (4 + len(KINDS)) + "|")
    for rrf_k in RRF_KS:
        by_kind = [hits_at([r for r in rows if r.kind == k], rrf_k)[0] for k in KINDS]
        cells = [f"{v:.3f}" for v in (*hits_at(rows, rrf_k), *by_kind)]
        print(f"| {rrf_k} | " + " | ".join(cells) + " |")
    if sys.argv[1:]:
        return  # measured, not chosen on
    fold_of = folds_of([r.group for r in rows], 5)
    totals = [0.0, 0.0, 0.0]
    for fold in range(5):
        training = [r for r in rows if fold_of[r.group] != fold]
        held = [r for r in rows if fold_of[r.group] == fold]
        best = max(RRF_KS, key=lambda k: sum(hits_at(training, k)))
        figures = hits_at(held, best)
        print(f"\nfold {fold}: rrf_k {best} chosen on the other folds", end="")
        totals = [t + f * len(held) for t, f in zip(totals, figures, strict=True)]
    print("\ncross-validated: hit@1 {:.3f}, hit@3 {:.3f}, hit@5 {:.3f}".format(*(t / len(rows) for t in totals)))


if __name__ == "__main__":
    main()
