"""Assertions for hand-written answer tests; their messages show the answer and every cited span.

    from rag.eval.assertions import assert_abstains, assert_cites

    def test_moscow(rag_ask):
        answer = rag_ask("What does Moscow insist Ukraine must do?")
        assert_cites(answer, "cede territory")
"""

from __future__ import annotations

from rag.records import Answer

__all__ = ["assert_abstains", "assert_answers", "assert_cites", "describe_answer"]


def _flat(text: str) -> str:
    return " ".join(text.split())


def describe_answer(answer: Answer) -> str:
    state = "abstained" if answer.abstained else "answered"
    lines = [f"question:  {answer.question}", f"{state:<10} {answer.answer!r} (confidence {answer.confidence:.2f})"]
    if not answer.citations:
        lines.append("citations: none")
    for n, c in enumerate(answer.citations, 1):
        lines.append(f"  [{n}] {c.doc_id}[{c.start}:{c.end}] {_flat(c.quote)!r}")
    return "\n".join(lines)


def assert_cites(answer: Answer, text: str, doc_id: str | None = None) -> None:
    """Some citation (of ``doc_id``, if given) quotes ``text`` (whitespace runs compared as one space)."""
    wanted = _flat(text)
    for c in answer.citations:
        if (doc_id is None or c.doc_id == doc_id) and wanted in _flat(c.quote):
            return
    where = f" from {doc_id}" if doc_id else ""
    raise AssertionError(f"no citation{where} quotes {wanted!r}\n{describe_answer(answer)}")


def assert_abstains(answer: Answer) -> None:
    """The engine said the documents do not answer the question."""
    if not answer.abstained:
        raise AssertionError(f"expected an abstention, but the question was answered\n{describe_answer(answer)}")


def assert_answers(answer: Answer, *expected: str) -> None:
    """The answer was given (no abstention) and holds one of ``expected`` (case and spacing ignored)."""
    given = _flat(answer.answer).lower()
    if answer.abstained or not any(_flat(e).lower() in given for e in expected):
        raise AssertionError(f"expected an answer holding one of {list(expected)!r}\n{describe_answer(answer)}")
