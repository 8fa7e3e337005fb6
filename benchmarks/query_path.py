"""Where a question's time goes, in process: embedding (per backend and thread count), the
question cache, dense and sentence search, BM25, fusion, answer extraction, serialisation.

    python benchmarks/query_path.py [--repeat 5]

Each figure is the median (and p95) over every question of the load-test mix, ``repeat``
times. The index is built in a scratch folder (``$RAG_BENCH_DIR``, default /tmp/rag-bench).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common


def head_reads(service: object, questions: list[str]) -> dict[str, int]:
    """How many sentences the span head reads for each question (0: refused unread, or no head)."""
    from rag.answering.span_head import SpanHead

    counts = dict.fromkeys(questions, 0)
    read = SpanHead.read
    current = [""]

    def counting(self: SpanHead, question: str, sentences: list[str]) -> object:
        counts[current[0]] += 1
        return read(self, question, sentences)

    SpanHead.read = counting  # type: ignore[method-assign,assignment]
    try:
        for q in questions:
            current[0] = q
            service.ask(q)  # type: ignore[attr-defined]
    finally:
        SpanHead.read = read  # type: ignore[method-assign]
    return counts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    os.chdir(common.ROOT)
    work = common.work_dir()
    os.environ.update(common.base_env(work / "index-query-path"))

    import faiss
    import msgspec
    import numpy as np
    import torch

    from rag.config import load_settings
    from rag.embedding.models import onnx_embedder
    from rag.embedding.sentence_transformers import SentenceTransformerEmbedder
    from rag.engine.service import QAService, normalised_question
    from rag.index.vectors import VectorCache

    omp_default = faiss.omp_get_max_threads()  # before any search sets this thread's own value

    common.print_header("Query path breakdown (in process)")
    questions = [q for q, _ in common.question_mix()]
    settings = load_settings()
    index_dir = settings.paths.index

    def per_question(fn: object, repeat: int = args.repeat) -> list[float]:
        samples: list[float] = []
        for q in questions[:3]:
            fn(q)  # type: ignore[operator]
        for _ in range(repeat):
            for q in questions:
                started = time.perf_counter()
                fn(q)  # type: ignore[operator]
                samples.append(time.perf_counter() - started)
        return samples

    rows: list[list[object]] = []
    results: dict[str, dict[str, float]] = {}

    def record(stage: str, variant: str, samples: list[float]) -> None:
        s = common.summarise_ms(samples)
        results[f"{stage} / {variant}"] = s
        rows.append([stage, variant, s["median_ms"], s["p95_ms"]])

    # -- embedding backends ---------------------------------------------------------------
    default_threads = torch.get_num_threads()
    torch_embedder = SentenceTransformerEmbedder()
    for threads in sorted({default_threads, 1}, reverse=True):
        torch.set_num_threads(threads)
        label = f"torch, {threads} thread{'s' if threads > 1 else ''}"
        if threads == default_threads:
            label += " (torch default: before)"
        record("embed question", label, per_question(lambda q: torch_embedder.embed([q])))
    torch.set_num_threads(1)
    onnx_embedders = {}
    for backend in ("onnx", "onnx-int8"):
        for threads in (1, 2):
            embedder = onnx_embedder(settings.embedding.model, backend, 32, index_dir, threads=threads)
            onnx_embedders[(backend, threads)] = embedder
            record("embed question", f"{backend}, {threads} thread{'s' if threads > 1 else ''}",
                   per_question(lambda q, e=embedder: e.embed([q])))  # type: ignore[misc]
    cache = VectorCache(4096)
    version = "v"
    for q in questions:
        cache.put((version, normalised_question(q)), np.zeros(384, dtype=np.float32))
    record("embed question", "cache hit (normalise + LRU lookup)",
           per_question(lambda q: cache.get((version, normalised_question(q)))))

    # -- the rest of the path, on the ONNX service ----------------------------------------
    default = settings.embedding.backend if settings.embedding.backend in ("onnx", "onnx-int8") else "onnx"
    embedder = onnx_embedders[(default, 1)]
    service = QAService.open(settings, embedder=embedder)
    retriever, answerer = service.retriever, service.answerer
    vectors = {q: service.embed_question(q) for q in questions}
    n = settings.retrieval.candidates
    k = max(settings.retrieval.top_k, settings.answering.passages_considered)
    record("dense search (chunks)", f"{len(service.data.chunks)} vectors, {service.data.manifest.index_kind}",
           per_question(lambda q: retriever.dense_ranking(vectors[q], n)))

    # Before: FAISS's OpenMP team (2 threads) in a server worker thread, right after the model ran.
    pool = concurrent.futures.ThreadPoolExecutor(1)
    raw = service.data.vectors._index

    def search_in_worker(threads: int) -> list[float]:
        def job() -> list[float]:
            faiss.omp_set_num_threads(threads)  # this thread's OpenMP setting
            samples = []
            for _ in range(args.repeat):
                for q in questions:
                    torch_embedder.embed([q])  # leaves torch's OpenMP threads warm, as in the server
                    started = time.perf_counter()
                    raw.search(vectors[q].reshape(1, -1), n)
                    samples.append(time.perf_counter() - started)
            return samples

        return pool.submit(job).result()

    torch.set_num_threads(default_threads)
    record("dense search after torch ran", f"FAISS OpenMP default, {omp_default} threads (before)",
           search_in_worker(omp_default))
    record("dense search after torch ran", "FAISS on the calling thread (after)", search_in_worker(1))
    torch.set_num_threads(1)
    pool.shutdown()

    record("sentence search", f"{len(service.data.sentences)} vectors, flat",
           per_question(lambda q: retriever.sentence_ranking(vectors[q], n)))
    record("BM25", f"{len(service.data.chunks)} chunks", per_question(lambda q: retriever.bm25_ranking(q, n)))
    record("retrieval (all rankers + fusion)", "hybrid", per_question(lambda q: retriever.search(q, vectors[q], k)))
    passages = {q: retriever.search(q, vectors[q], k) for q in questions}
    record("answer extraction", "clauses of the top passages",
           per_question(lambda q: answerer.answer(q, vectors[q], passages[q])))
    answers = {q: service.ask(q) for q in questions}
    record("serialisation", "msgspec JSON of the Answer", per_question(lambda q: msgspec.json.encode(answers[q])))
    record("QAService.ask", "repeated question: answer cache hit", per_question(service.ask))
    vector_cache_only = QAService.open(
        load_settings(environ={**os.environ, "RAG_ANSWERING__ANSWER_CACHE_SIZE": "0"}), embedder=embedder
    )
    record("QAService.ask", "question vector cache warm, answer cache off", per_question(vector_cache_only.ask))
    uncached = QAService.open(load_settings(environ={**os.environ, **common.NO_CACHE}),
                              embedder=embedder)
    # The second head read starts on the spare core during the first when nothing else runs (same
    # answers). Both services answer each question in turn, alternating which goes first, so that
    # the load of the moment falls on both; then split by how many sentences the head read.
    one_core = QAService.open(load_settings(environ={**os.environ, **common.NO_CACHE,
                                                     "RAG_ANSWERING__SPAN_HEAD_READ_AHEAD": "false"}),
                              embedder=embedder)  # fmt: skip
    reads = head_reads(one_core, questions)
    ahead: dict[str, list[float]] = {q: [] for q in questions}
    alone: dict[str, list[float]] = {q: [] for q in questions}
    for round_ in range(args.repeat):
        for q in questions:
            pair = ((uncached, ahead), (one_core, alone))
            for svc, into in pair if round_ % 2 == 0 else pair[::-1]:
                started = time.perf_counter()
                svc.ask(q)
                into[q].append(time.perf_counter() - started)
    variant = f"caches off ({default}, 1 thread; the span head reads up to 3 sentences)"
    record("QAService.ask", f"{variant}, read ahead on", [t for q in questions for t in ahead[q]])
    record("QAService.ask", f"{variant}, read ahead off", [t for q in questions for t in alone[q]])
    for n in sorted(set(reads.values())):
        asked = [q for q in questions if reads[q] == n]
        label = f"{n} head read{'s' if n != 1 else ''} ({len(asked)} questions)"
        record("QAService.ask", f"{label}, read ahead on", [t for q in asked for t in ahead[q]])
        record("QAService.ask", f"{label}, read ahead off", [t for q in asked for t in alone[q]])
    # The span head is on by default ([answering] span_head_sentences = 3): three int8 MiniLM passes.
    without_head = QAService.open(load_settings(environ={**os.environ, **common.NO_CACHE,
                                                         "RAG_ANSWERING__SPAN_HEAD_SENTENCES": "0"}),
                                  embedder=embedder)  # fmt: skip
    record("QAService.ask", f"caches off, span head off ({default}, 1 thread)", per_question(without_head.ask))

    print(common.table(["stage", "variant", "median ms", "p95 ms"], rows))
    print(f"\n{len(questions)} questions x {args.repeat}; answer timings from the {default} service")
    common.save_result("query_path", {"results": results})


if __name__ == "__main__":
    main()
