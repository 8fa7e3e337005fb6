"""The span head: a small cross-encoder that marks where, in one of the reader's best sentences, the answer lies.

The reader's features choose the sentence better than the span inside it. The head is
all-MiniLM-L6-v2 with a linear start/end layer on top, fine-tuned by ``rag fit``
(``rag.eval.span_training``) and run here on ONNX Runtime (int8, ``rag.answering.span_model``).
``rag.answering.span`` uses it three times: its margin (best span against "no answer") in each of
the reader's best sentences helps choose the sentence and decide whether to refuse, and its start
and end scores (``PieceScores``) vote on the reader's candidates in that sentence
(``[answering] span_head_sentences``, ``span_head_weight``, ``span_head_vote``; figures in the
README and eval/EXPERIMENTS.md).

It reads ``question [SEP] s1 [s2 ...]``: sentences joined by spaces (the reader gives it one at a
time, as it was trained). Every span of at most ``MAX_SPAN_PIECES`` word pieces inside one
sentence is scored by its start logit plus its end logit; ``null`` is the same sum at ``[CLS]``,
the head's "none of these holds the answer". A span's end is widened to the end of its word, so
an answer never stops inside a word."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.embedding.onnx import inference_session

MAX_SPAN_PIECES = 30
MAX_PIECES = 192  # question and sentences; the rest of the last sentence is cut


def pair_tokenizer(tokenizer_file: Path) -> Any:
    """MiniLM's tokenizer for a question and its sentences, at most ``MAX_PIECES`` word pieces, unpadded.
    The longer side is cut first: a long sentence keeps the question whole, and a question longer
    than the head can read (a few hundred characters; ``[answering] max_question_chars`` allows
    more) loses its tail instead of failing, as cutting only the sentences did."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tokenizer_file))
    tokenizer.no_padding()  # the model folder's tokenizer.json pads to a fixed length
    tokenizer.enable_truncation(max_length=MAX_PIECES, strategy="longest_first")
    return tokenizer


@dataclass(frozen=True)
class HeadSpan:
    segment: int  # which of the given sentences holds the span
    start: int  # character offsets within that sentence
    end: int
    score: float  # start plus end logit
    null: float  # the same at [CLS]: the head's score for "no answer here"

    @property
    def margin(self) -> float:
        return self.score - self.null


class SpanHead:
    """Runs the span head's ONNX file on one question and a few sentences."""

    def __init__(self, model_file: Path, tokenizer_file: Path, threads: int = 1) -> None:
        self.tokenizer = pair_tokenizer(tokenizer_file)
        self.session = inference_session(model_file, threads)

    def logits(self, question: str, context: str) -> tuple[Any, np.ndarray[Any, Any], np.ndarray[Any, Any]]:
        """The encoding of the pair and its start and end logits, one per word piece."""
        encoding = self.tokenizer.encode(question, context)
        ids = np.asarray([encoding.ids], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": np.ones_like(ids),
                "token_type_ids": np.asarray([encoding.type_ids], dtype=np.int64)}  # fmt: skip
        start, end = self.session.run(None, feed)
        return encoding, start[0].astype(np.float64), end[0].astype(np.float64)

    def best(self, question: str, sentences: Sequence[str]) -> HeadSpan | None:
        """The best span within one of ``sentences``; None when no sentence survived truncation."""
        found = self.read(question, sentences)
        return found[0] if found is not None else None

    def read(self, question: str, sentences: Sequence[str]) -> tuple[HeadSpan, PieceScores] | None:
        """The best span within one of ``sentences``, and the scores of the context's word pieces."""
        context = " ".join(sentences)
        bounds = np.cumsum([0] + [len(s) + 1 for s in sentences])  # each sentence's start in the context
        encoding, start, end = self.logits(question, context)
        pieces = [i for i, sid in enumerate(encoding.sequence_ids) if sid == 1]
        if not pieces:
            return None
        first = np.asarray(pieces)
        offsets = np.asarray(encoding.offsets)[first]  # one copy: each .offsets builds the whole list anew
        segment = np.searchsorted(bounds, offsets[:, 0], side="right") - 1
        # span (i, j) over the context's pieces: j - i < MAX_SPAN_PIECES, both in one sentence
        i, j = np.triu_indices(len(pieces))
        keep = (j - i < MAX_SPAN_PIECES) & (segment[i] == segment[j])
        i, j = i[keep], j[keep]
        scores = start[first[i]] + end[first[j]]
        best = int(np.argmax(scores))
        a, b = int(i[best]), int(j[best])
        which = int(segment[a])
        text = sentences[which]
        lo = int(offsets[a, 0] - bounds[which])
        hi = int(offsets[b, 1] - bounds[which])
        while hi < len(text) and text[hi].isalnum() and hi > 0 and text[hi - 1].isalnum():
            hi += 1
        null = float(start[0] + end[0])
        return HeadSpan(which, lo, hi, float(scores[best]), null), PieceScores(offsets, start[first], end[first], null)


@dataclass(frozen=True)
class PieceScores:
    """The head's start and end scores for each word piece of the context it read."""

    offsets: np.ndarray[Any, Any]  # (pieces, 2) character offsets in the context
    start: np.ndarray[Any, Any]
    end: np.ndarray[Any, Any]
    null: float

    def span_margin(self, start: int, end: int) -> float | None:
        """The head's score for the span ``[start, end)`` of the context (its first piece's start
        score plus its last piece's end score) against "no answer"; None when no piece lies in it."""
        inside = np.flatnonzero((self.offsets[:, 1] > start) & (self.offsets[:, 0] < end))
        if not len(inside):
            return None
        return float(self.start[inside[0]] + self.end[inside[-1]]) - self.null
