"""all-MiniLM-L6-v2 on ONNX Runtime: sentence-transformers' vectors without torch at query time.

``OnnxEmbedder`` runs one ONNX file (the fp32 export or its int8 quantisation, both made and
checked by ``rag.embedding.models``). It tokenises with the model folder's fast tokenizer
(``tokenizers``), truncates at 256 word pieces as sentence-transformers does
(``max_seq_length``), mean-pools the last hidden state over the attention mask and
L2-normalises: exactly sentence-transformers' pipeline for this model. Batches are sorted by
length so padding stays small.

Threads by load. ONNX Runtime fixes a session's intra-op thread count when the session is
made, so the embedder holds one session per count it uses and picks one per call:

- a question embedded while no other embedding runs in this process takes the
  ``lone_threads`` session (default 1: the int8 model's lone question is faster on one thread,
  1.85 against 2.12 ms on the 2-core target; the fp32 model's is faster on two, 3.7 against
  5.1 ms, so ``backend = "onnx"`` wants ``lone_threads = 2``);
- a question embedded while another is in flight takes the ``threads`` session (default 1):
  two questions at once already fill both cores, and two-thread sessions then fight each
  other for them (benchmarks/threads.py measures both rules and the adaptive one);
- a call with ``BULK_TEXTS`` texts or more (an index build) runs on a session with every
  core, made on demand and dropped by ``release_bulk`` after the build.

Multi-thread sessions never spin: a spinning worker keeps a core busy after each run,
stealing it from the server's other requests.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from rag.embedding.base import Vectors
from rag.errors import ModelFileError

MAX_LENGTH = 256  # sentence-transformers' max_seq_length for this model
BULK_TEXTS = 64  # calls with this many texts or more (index builds) run on every core
# Word pieces per forward pass (rows x padded width). A pass's memory grows with rows x width^2
# (attention), and onnxruntime's arena keeps its peak: 32 rows of 256 word pieces took ~1.2 GB,
# 4 rows ~0.2 GB, no slower (benchmarks/upload.py). Short texts still go batch_size at a time.
MAX_BATCH_WORD_PIECES = 1024
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def inference_session(model_file: Path, threads: int) -> Any:
    """An ONNX Runtime CPU session on ``threads`` intra-op threads that never spin."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, threads)
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads > 1:
        # Spinning workers keep a core busy after each run, stealing it from the other requests.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])


class OnnxEmbedder:
    """Mean-pooled, L2-normalised sentence vectors from an ONNX BERT encoder."""

    def __init__(
        self,
        name: str,
        model_file: Path,
        tokenizer_file: Path,
        batch_size: int = 32,
        threads: int = 1,
        max_length: int = MAX_LENGTH,
        lone_threads: int | None = None,
    ) -> None:
        """``threads``: intra-op threads under concurrent load; ``lone_threads``: for a call
        that runs alone (None or <= ``threads``: always ``threads``)."""
        from tokenizers import Tokenizer

        self.name = name
        self.batch_size = max(1, batch_size)
        self.max_length = max_length
        self.model_file = Path(model_file)
        self.threads = max(1, threads)
        self.lone_threads = max(self.threads, lone_threads or self.threads)
        self.bulk_threads = max(self.lone_threads, os.cpu_count() or 1)
        self.session = self._session(self.threads)
        self._lone = self._session(self.lone_threads) if self.lone_threads > self.threads else None
        self._bulk: Any = None  # a session on every core for big batches (index builds), made on demand
        self._bulk_lock = threading.Lock()
        self._in_flight = 0  # embed calls running now, to choose between the lone and the loaded session
        self._in_flight_lock = threading.Lock()
        self._inputs = [i.name for i in self.session.get_inputs()]
        missing = set(self._inputs) - set(INPUTS)
        if missing:
            raise ModelFileError(f"{model_file} wants inputs {sorted(missing)}; expected a subset of {INPUTS}")
        output = self.session.get_outputs()[0]
        self._output = output.name
        self.dim = int(output.shape[-1]) if isinstance(output.shape[-1], int) else self._probe_dim()

        self._tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=max_length)
        # The tokenizer file pads and truncates at 128; counting must see every word piece.
        self._counter = Tokenizer.from_file(str(tokenizer_file))
        self._counter.no_padding()
        self._counter.no_truncation()

    # -- Embedder --------------------------------------------------------------------------

    def embed(self, texts: Sequence[str]) -> Vectors:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not len(texts):
            return out
        # One text (a question) skips the batch encoder's thread pool.
        one = len(texts) == 1
        encodings = [self._tokenizer.encode(texts[0])] if one else self._tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids), reverse=True)
        with self._in_flight_lock:
            self._in_flight += 1
            alone = self._in_flight == 1
        try:
            session = self._choose_session(len(texts), alone)
            for rows in self._batches(order, [len(e.ids) for e in encodings]):
                out[rows] = self._run([encodings[i].ids for i in rows], session)
        finally:
            with self._in_flight_lock:
                self._in_flight -= 1
        return out

    def embed_with_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]
    ) -> tuple[Vectors, list[Vectors]]:
        """Each text's vector and, from the same forward pass, one vector per character span of
        it (``spans[i]`` for ``texts[i]``): the mean of the hidden states of the span's word
        pieces, L2-normalised, i.e. sentence-transformers' pooling restricted to the span. A
        span in which no word piece starts (white space only) gets the text's own vector."""
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        span_vectors = [np.zeros((len(s), self.dim), dtype=np.float32) for s in spans]
        if not len(texts):
            return vectors, span_vectors
        encodings = self._tokenizer.encode_batch(list(texts))
        session = self._bulk_session() if len(texts) >= BULK_TEXTS else self.session
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids), reverse=True)
        for rows in self._batches(order, [len(e.ids) for e in encodings]):
            hidden, mask = self._hidden([encodings[i].ids for i in rows], session)
            vectors[rows] = mean_pool_normalise(hidden, mask)
            for slot, row in enumerate(rows):
                found = span_weights(encodings[row].offsets, encodings[row].special_tokens_mask, spans[row])
                weights = np.zeros((len(found), hidden.shape[1]), dtype=np.float32)  # padded to the batch
                weights[:, : found.shape[1]] = found
                counts = weights.sum(axis=1, keepdims=True)
                pooled = (weights @ hidden[slot]) / np.maximum(counts, 1.0)
                pooled[counts[:, 0] == 0] = vectors[row]
                norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
                span_vectors[row] = np.ascontiguousarray(pooled / norms, dtype=np.float32)
        return vectors, span_vectors

    def release_bulk(self) -> None:
        """Drop the all-cores session (about the model's size in memory) once a build is done."""
        with self._bulk_lock:
            self._bulk = None

    def count_word_pieces(self, text: str) -> int:
        return len(self._counter.encode(text, add_special_tokens=False).ids)

    # -- internals -------------------------------------------------------------------------

    def _batches(self, order: list[int], lengths: list[int]) -> Iterator[list[int]]:
        """``order`` (longest first) in batches of at most ``batch_size`` rows and about
        ``MAX_BATCH_WORD_PIECES`` padded word pieces (at least one row each)."""
        offset = 0
        while offset < len(order):
            width = max(1, lengths[order[offset]])  # the batch's first row is its longest
            size = max(1, min(self.batch_size, MAX_BATCH_WORD_PIECES // width))
            yield order[offset : offset + size]
            offset += size

    def _choose_session(self, texts: int, alone: bool) -> Any:
        if texts >= BULK_TEXTS:
            return self._bulk_session()
        if alone and self._lone is not None:
            return self._lone
        return self.session

    def _session(self, threads: int) -> Any:
        return inference_session(self.model_file, threads)

    def _bulk_session(self) -> Any:
        if self.bulk_threads <= self.threads:
            return self.session
        if self.bulk_threads == self.lone_threads and self._lone is not None:
            return self._lone
        with self._bulk_lock:
            if self._bulk is None:
                self._bulk = self._session(self.bulk_threads)
            return self._bulk

    def _run(self, batch: list[list[int]], session: Any = None) -> Vectors:
        return mean_pool_normalise(*self._hidden(batch, session))

    def _hidden(
        self, batch: list[list[int]], session: Any = None
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        """The last hidden state of a padded batch, and its attention mask."""
        width = max(len(ids) for ids in batch)
        input_ids = np.zeros((len(batch), width), dtype=np.int64)
        mask = np.zeros((len(batch), width), dtype=np.int64)
        for row, ids in enumerate(batch):
            input_ids[row, : len(ids)] = ids
            mask[row, : len(ids)] = 1
        feeds = {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": np.zeros_like(input_ids)}
        hidden = (session or self.session).run([self._output], {k: feeds[k] for k in self._inputs})[0]
        return np.asarray(hidden, dtype=np.float32), mask

    def _probe_dim(self) -> int:
        ids = np.array([[101, 102]], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
        return int(self.session.run([self._output], {k: feeds[k] for k in self._inputs})[0].shape[-1])


def mean_pool_normalise(hidden: npt.NDArray[np.float32], mask: npt.NDArray[np.int64]) -> Vectors:
    """sentence-transformers' mean pooling (clamped at 1e-9) followed by ``F.normalize`` (eps 1e-12)."""
    weights = mask.astype(np.float32)[:, :, None]
    summed = (hidden * weights).sum(axis=1)
    pooled = summed / np.maximum(weights.sum(axis=1), 1e-9)
    norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
    return np.ascontiguousarray(pooled / norms, dtype=np.float32)


def span_weights(
    offsets: Sequence[tuple[int, int]], special: Sequence[int], spans: Sequence[tuple[int, int]]
) -> npt.NDArray[np.float32]:
    """``(len(spans), len(offsets))``: 1 where a word piece (not [CLS]/[SEP]) starts inside a span."""
    starts = np.array([start for start, _ in offsets], dtype=np.int64)
    real = np.array(special, dtype=bool) == 0
    bounds = np.array(spans, dtype=np.int64).reshape(-1, 2)
    inside = (starts[None, :] >= bounds[:, :1]) & (starts[None, :] < bounds[:, 1:]) & real[None, :]
    weights: npt.NDArray[np.float32] = inside.astype(np.float32)
    return weights
