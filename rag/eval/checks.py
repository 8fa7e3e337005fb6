"""One gold question through the engine: its outcome, what (if anything) it missed, and a readable diff.

Shared by the pytest plugin (one test item per question) and ``rag eval`` (baselines), so a
question fails for the same reasons in both. The metrics themselves are ``rag.eval.metrics``'.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import msgspec

from rag.engine.service import QAService
from rag.eval.metrics import GoldItem, Outcome, resolve_doc, score_item
from rag.eval.thresholds import DEFAULT_QUESTION_F1
from rag.records import Answer, Document

MISSING_DOCUMENT = "<not in any document>"


@dataclass(frozen=True)
class Checked:
    """A question, the answer it got, its scores and the reasons it counts as missed (none: passed)."""

    item: GoldItem
    answer: Answer
    outcome: Outcome
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems


def with_resolved_evidence(item: GoldItem, documents: dict[str, Document]) -> tuple[GoldItem, list[str]]:
    """``item`` with every evidence span's document named; a span found in no document (its
    document removed or changed) is kept under a name no citation can match, and noted."""
    evidence, notes = [], []
    for e in item.evidence:
        try:
            evidence.append(msgspec.structs.replace(e, doc_id=resolve_doc(e, documents)))
        except ValueError:
            evidence.append(msgspec.structs.replace(e, doc_id=MISSING_DOCUMENT))
            notes.append(f"evidence {e.text[:60]!r} at {e.start}-{e.end} is in none of the documents")
    return msgspec.structs.replace(item, evidence=evidence), notes


def f1_floor(item: GoldItem, default: float) -> float:
    """The item's own ``min_f1`` (a ``rag.eval.gold.GoldLine``) or else ``default``."""
    own: float | None = getattr(item, "min_f1", None)
    return default if own is None else own


def question_problems(item: GoldItem, outcome: Outcome, min_f1: float) -> list[str]:
    if not item.answerable:
        return [] if outcome.abstained else ["answered a question the gold marks unanswerable"]
    if outcome.abstained:
        return ["abstained, but the gold has an answer"]
    problems = []
    if outcome.f1 < min_f1:
        problems.append(f"token F1 {outcome.f1:.2f} is below {min_f1:.2f}")
    if outcome.evidence and not outcome.covered_evidence:
        problems.append("no citation overlaps the gold evidence")
    return problems


def check_question(service: QAService, item: GoldItem, min_f1: float = DEFAULT_QUESTION_F1) -> Checked:
    documents = service.data.documents
    resolved, notes = with_resolved_evidence(item, documents)
    started = time.perf_counter()
    answer = service.ask(item.question, top_k=10)
    outcome = score_item(resolved, answer, documents, (time.perf_counter() - started) * 1000)
    problems = question_problems(resolved, outcome, f1_floor(item, min_f1))
    return Checked(resolved, answer, outcome, problems, notes)


def _quote(text: str, limit: int = 300) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= limit else flat[: limit - 1] + "…")


def explain(checked: Checked) -> str:
    """The diff a failing test shows: expected against given, spans with their offsets."""
    item, answer, outcome = checked.item, checked.answer, checked.outcome
    lines = [f"gold question {item.id} ({item.kind}): {item.question}"]
    lines += [f"  missed: {p}" for p in checked.problems]
    lines += [f"  note: {n}" for n in checked.notes]
    lines.append("expected:")
    if item.answerable:
        lines += [f"  answer   {_quote(a)}" for a in item.answers]
        lines += [f"  evidence {e.doc_id}[{e.start}:{e.end}] {_quote(e.text)}" for e in item.evidence]
    else:
        lines.append("  an abstention (the documents do not answer this)")
    lines.append(f"given (confidence {answer.confidence:.2f}, F1 {outcome.f1:.2f}):")
    lines.append(f"  {'abstained' if answer.abstained else 'answer':8} {_quote(answer.answer)}")
    lines += [f"  cites    {c.doc_id}[{c.start}:{c.end}] {_quote(c.quote)}" for c in answer.citations]
    if not answer.citations:
        lines.append("  cites    nothing")
    return "\n".join(lines)
