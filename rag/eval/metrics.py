"""Evaluation over a gold question set, and the fitting of the abstention rule.

Gold format (JSON lines): ``id, question, answers, evidence[{start, end, text, doc_id?}],
kind``; ``unanswerable`` items have no answers and no evidence. Evidence without a
``doc_id`` belongs to the document whose text holds it at those offsets.

Metrics: retrieval hit@1/3/5 and MRR@10 (a passage hits when it holds at least half of a
gold evidence span); SQuAD exact match and token F1 and answer containment; citation
validity, precision and recall; abstention rates; latency. Reported for answerable and
unanswerable questions and by kind.
"""

from __future__ import annotations

import re
import statistics
import string
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import msgspec
from rich.table import Table

from rag.answering.model import ReaderModel
from rag.answering.span_head import SpanHead
from rag.engine.service import QAService
from rag.records import Answer, Citation, Document, Passage


class GoldEvidence(msgspec.Struct, frozen=True):
    start: int
    end: int
    text: str
    doc_id: str | None = None


class GoldItem(msgspec.Struct, frozen=True):
    id: str
    question: str
    answers: list[str]
    evidence: list[GoldEvidence]
    kind: str
    doc: str = ""  # the document file the question is about, when the gold set names it
    topic: str = ""  # for unanswerable questions: "on" (the document's subject) or "off"

    @property
    def answerable(self) -> bool:
        return self.kind != "unanswerable"


def load_gold(path: Path) -> list[GoldItem]:
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [msgspec.json.decode(line, type=GoldItem) for line in lines]


# -- SQuAD answer metrics ------------------------------------------------------------------

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = set(string.punctuation) | set("‘’“”—–…")


def normalize_answer(text: str) -> str:
    """SQuAD normalisation: lower case, no punctuation, no articles, single spaces."""
    text = "".join(c for c in text.lower() if c not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, golds: Sequence[str]) -> float:
    return float(any(normalize_answer(prediction) == normalize_answer(g) for g in golds))


def token_f1(prediction: str, golds: Sequence[str]) -> float:
    best = 0.0
    predicted = normalize_answer(prediction).split()
    for gold in golds:
        expected = normalize_answer(gold).split()
        common = sum((Counter(predicted) & Counter(expected)).values())
        if common:
            precision, recall = common / len(predicted), common / len(expected)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


def containment(prediction: str, golds: Sequence[str]) -> float:
    """Share of the gold answer's tokens found in the prediction (best gold answer)."""
    predicted = set(normalize_answer(prediction).split())
    shares = [sum(t in predicted for t in g) / len(g) for g in (normalize_answer(x).split() for x in golds) if g]
    return max(shares, default=0.0)


# -- spans ---------------------------------------------------------------------------------


def resolve_doc(evidence: GoldEvidence, documents: dict[str, Document]) -> str:
    if evidence.doc_id:
        return evidence.doc_id
    for doc in documents.values():
        if doc.text[evidence.start : evidence.end] == evidence.text:
            return doc.doc_id
    raise ValueError(f"gold evidence {evidence.text[:40]!r} is not at its offsets in any document")


def overlap(a_start: int, a_end: int, b_start: int, b_end: int) -> int:
    return max(0, min(a_end, b_end) - max(a_start, b_start))


def passage_hits(passage: Passage, gold: list[tuple[str, GoldEvidence]]) -> bool:
    return any(
        doc_id == passage.doc_id and 2 * overlap(passage.start, passage.end, e.start, e.end) >= e.end - e.start
        for doc_id, e in gold
    )


def cites(citation: Citation, doc_id: str, e: GoldEvidence) -> bool:
    return citation.doc_id == doc_id and overlap(citation.start, citation.end, e.start, e.end) > 0


# -- running -------------------------------------------------------------------------------


class Outcome(msgspec.Struct):
    id: str
    kind: str
    answerable: bool
    answer: str
    abstained: bool
    confidence: float
    first_hit: int | None  # 1-based rank of the first hitting passage within the top 10
    em: float
    f1: float
    contained: float
    citations: int
    valid_citations: int
    precise_citations: int
    evidence: int
    covered_evidence: int
    latency_ms: float
    doc: str = ""
    genre: str = ""
    topic: str = ""


class Report(msgspec.Struct):
    outcomes: list[Outcome]
    summary: dict[str, dict[str, float]]


def score_item(item: GoldItem, answer: Answer, documents: dict[str, Document], latency_ms: float) -> Outcome:
    gold = [(resolve_doc(e, documents), e) for e in item.evidence]
    first_hit = next((p.rank for p in answer.passages[:10] if passage_hits(p, gold)), None)
    predicted = "" if answer.abstained else answer.answer
    valid = sum(documents[c.doc_id].text[c.start : c.end] == c.quote for c in answer.citations if c.doc_id in documents)
    return Outcome(
        id=item.id,
        kind=item.kind,
        answerable=item.answerable,
        answer=predicted,
        abstained=answer.abstained,
        confidence=answer.confidence,
        first_hit=first_hit,
        em=exact_match(predicted, item.answers) if item.answerable else 0.0,
        f1=token_f1(predicted, item.answers) if item.answerable else 0.0,
        contained=containment(predicted, item.answers) if item.answerable else 0.0,
        citations=len(answer.citations),
        valid_citations=valid,
        precise_citations=sum(any(cites(c, d, e) for d, e in gold) for c in answer.citations),
        evidence=len(gold),
        covered_evidence=sum(any(cites(c, d, e) for c in answer.citations) for d, e in gold),
        latency_ms=latency_ms,
    )


def evaluate(
    service: QAService,
    items: Iterable[GoldItem],
    genre_of: Callable[[GoldItem], str] | None = None,
    model_for: Callable[[GoldItem], ReaderModel] | None = None,
    head_for: Callable[[GoldItem], SpanHead] | None = None,
) -> Report:
    """Answer every item and score it. ``model_for`` and ``head_for`` give the reader model and
    span head per item (fitted without the item's document, for held-out figures); the default
    is the service's."""
    outcomes = []
    served, served_head = service.answerer.model, service.answerer.span_head
    try:
        for item in items:
            if model_for is not None:
                service.answerer.model = model_for(item)
            if head_for is not None:
                service.answerer.span_head = head_for(item)
            started = time.perf_counter()
            answer = service.ask(item.question, top_k=10)
            latency = (time.perf_counter() - started) * 1000
            outcome = score_item(item, answer, service.data.documents, latency)
            genre = genre_of(item) if genre_of else ""
            outcomes.append(msgspec.structs.replace(outcome, doc=item.doc, genre=genre, topic=item.topic))
    finally:
        service.answerer.model, service.answerer.span_head = served, served_head
    return Report(outcomes=outcomes, summary=summarize(outcomes))


def _ratio(numerator: float, denominator: float) -> float:
    return round(numerator / denominator, 4) if denominator else float("nan")


def figures(outcomes: list[Outcome]) -> dict[str, float]:
    answerable = [o for o in outcomes if o.answerable]
    unanswerable = [o for o in outcomes if not o.answerable]
    answered = [o for o in outcomes if not o.abstained]
    latencies = sorted(o.latency_ms for o in outcomes)
    n = len(answerable)
    return {
        "questions": len(outcomes),
        "hit@1": _ratio(sum(o.first_hit is not None and o.first_hit <= 1 for o in answerable), n),
        "hit@3": _ratio(sum(o.first_hit is not None and o.first_hit <= 3 for o in answerable), n),
        "hit@5": _ratio(sum(o.first_hit is not None and o.first_hit <= 5 for o in answerable), n),
        "mrr@10": _ratio(sum(1 / o.first_hit for o in answerable if o.first_hit), n),
        "exact_match": _ratio(sum(o.em for o in answerable), n),
        "token_f1": _ratio(sum(o.f1 for o in answerable), n),
        "containment": _ratio(sum(o.contained for o in answerable), n),
        "citation_validity": _ratio(sum(o.valid_citations for o in outcomes), sum(o.citations for o in outcomes)),
        "citation_precision": _ratio(
            sum(o.precise_citations for o in answerable if not o.abstained),
            sum(o.citations for o in answerable if not o.abstained),
        ),
        "citation_recall": _ratio(sum(o.covered_evidence for o in answerable), sum(o.evidence for o in answerable)),
        "abstained_unanswerable": _ratio(sum(o.abstained for o in unanswerable), len(unanswerable)),
        "abstained_answerable": _ratio(sum(o.abstained for o in answerable), n),
        "answered": len(answered),
        "latency_median_ms": round(statistics.median(latencies), 2) if latencies else float("nan"),
        "latency_p95_ms": round(latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))], 2)
        if latencies
        else float("nan"),
    }


def summarize(outcomes: list[Outcome]) -> dict[str, dict[str, float]]:
    groups: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        groups["all"].append(o)
        groups["answerable" if o.answerable else "unanswerable"].append(o)
        groups[f"kind:{o.kind}"].append(o)
        if o.genre:
            groups[f"genre:{o.genre}"].append(o)
        if o.doc:
            groups[f"doc:{o.doc}"].append(o)
        if o.topic:
            groups[f"unanswerable:{o.topic}-topic"].append(o)
    return {name: figures(group) for name, group in groups.items()}


ROWS = [
    "questions", "hit@1", "hit@3", "hit@5", "mrr@10", "exact_match", "token_f1", "containment",
    "citation_validity", "citation_precision", "citation_recall", "abstained_unanswerable",
    "abstained_answerable", "latency_median_ms", "latency_p95_ms",
]  # fmt: skip


def render(report: Report, title: str) -> Table:
    table = Table(title=title)
    table.add_column("metric")
    columns = list(report.summary)
    for name in columns:
        table.add_column(name, justify="right")
    for row in ROWS:
        cells = [report.summary[c].get(row, float("nan")) for c in columns]
        table.add_row(row, *["–" if v != v else f"{v:g}" for v in cells])
    return table


def render_markdown(report: Report, title: str) -> str:
    columns = list(report.summary)
    lines = [f"**{title}**", "", "| metric | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for row in ROWS:
        cells = [report.summary[c].get(row, float("nan")) for c in columns]
        lines.append(f"| {row} | " + " | ".join("–" if v != v else f"{v:g}" for v in cells) + " |")
    return "\n".join(lines)
