"""The PostgreSQL store at scale: 200k chunks in pgvector next to the local store on the same data.

    python benchmarks/postgres_scale.py [--chunks 200000] [--queries 200]

The chunks are synthetic: vectors from ``scale.py``'s clustered 384-d mixture, texts of 30
words drawn (Zipf) from the development corpus's vocabulary, one sentence and one clause per
chunk, 100 chunks per document. Embedding 200k real chunks would take hours on two cores and
measures the model, not the store; a stand-in embedder maps each question to a query vector
from the same mixture. Both stores get identical rows.

Printed: the build (rows written with COPY, then pgvector's HNSW index, against FAISS HNSW
and bm25s), the database size, the engine's load time, dense recall@10 against exact search
(pgvector with the index scan turned off; FAISS flat), and ``QAService.ask`` p50/p95 (one
question at a time, question cache off).
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
import scale
from postgres_store import fresh_database, index_folder, settings_for

ROOT = common.ROOT
WORDS_PER_CHUNK = 30
CHUNKS_PER_DOCUMENT = 100
QUESTION_WORDS = 6


class StandInEmbedder:
    """Questions map to prepared query vectors; nothing else is embedded here."""

    name = "synthetic-clustered-384"
    dim = scale.DIM

    def __init__(self, vectors: dict[str, Any]) -> None:
        self.vectors = vectors

    def embed(self, texts: Any) -> Any:
        import numpy as np

        return np.stack([self.vectors[t] for t in texts])

    def count_word_pieces(self, text: str) -> int:
        return len(text.split())


def vocabulary() -> tuple[list[str], Any]:
    import numpy as np

    counts: Counter[str] = Counter()
    for path in (ROOT / "eval" / "corpus" / "docs").iterdir():
        counts.update(w.lower() for w in re.findall(r"[A-Za-z]{3,}", path.read_text(encoding="utf-8")))
    words = [w for w, _ in counts.most_common()]
    weights = 1.0 / np.arange(1, len(words) + 1)
    return words, weights / weights.sum()


def rows(count: int, rng: Any) -> tuple[list[Any], Any]:
    from rag.documents.loading import make_document
    from rag.index.content import ChunkTable
    from rag.records import Chunk, Clause, Sentence

    words, p = vocabulary()
    drawn = rng.choice(len(words), size=(count, WORDS_PER_CHUNK), p=p)
    documents, sentences, clauses, chunks = [], [], [], []
    for first in range(0, count, CHUNKS_PER_DOCUMENT):
        doc_id = f"doc-{first // CHUNKS_PER_DOCUMENT:05d}"
        last = min(count, first + CHUNKS_PER_DOCUMENT)
        texts = [" ".join(words[w] for w in drawn[i]).capitalize() + "." for i in range(first, last)]
        text = " ".join(texts) + "\n"
        documents.append(make_document(doc_id, text, f"{doc_id}.txt"))
        start = 0
        for piece in texts:
            n, end = len(chunks), start + len(piece)
            sentences.append(Sentence(n, doc_id, start, end, piece))
            clauses.append(Clause(n, n, doc_id, start, end, piece))
            chunks.append(Chunk(n, doc_id, start, end, piece, WORDS_PER_CHUNK, (n,)))
            start = end + 1
    return documents, ChunkTable(sentences=sentences, clauses=clauses, chunks=chunks)


def latency(fn: Any, inputs: list[Any]) -> dict[str, float]:
    for x in inputs[:5]:
        fn(x)
    samples = []
    for x in inputs:
        began = time.perf_counter()
        fn(x)
        samples.append(time.perf_counter() - began)
    return common.summarise_ms(samples)


def recall(found: list[list[int]], truth: list[list[int]]) -> float:
    return sum(len(set(f) & set(t)) / len(t) for f, t in zip(found, truth, strict=True)) / len(truth)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=200_000)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    import numpy as np
    import pgserver

    from rag.engine.service import QAService
    from rag.index.build import fingerprint_for
    from rag.index.content import IndexData
    from rag.index.manifest import Manifest
    from rag.index.postgres import backend, tables
    from rag.index.postgres.connections import connect, search_pool
    from rag.index.postgres.search import PgVectorIndex, SearchRoute
    from rag.index.postgres.snapshot import settings_of
    from rag.index.vectors import FaissIndex, ef_construction_for

    common.print_header(f"PostgreSQL store at {args.chunks} chunks")
    rng = np.random.default_rng(0)
    vectors, query_vectors = scale.dataset(args.chunks, args.queries)
    documents, table = rows(args.chunks, rng)
    words, _ = vocabulary()
    questions = [" ".join(rng.choice(words[:3000], QUESTION_WORDS)) + "?" for _ in range(args.queries)]
    embedder = StandInEmbedder(dict(zip(questions, query_vectors, strict=True)))
    figures: dict[str, Any] = {"chunks": args.chunks}

    folder = tempfile.mkdtemp(prefix="rag-bench-pg-scale-")
    server = pgserver.get_server(folder, cleanup_mode="stop")
    try:
        dsn = fresh_database(server, "scale")
        settings = settings_for("postgres", dsn, ROOT / "seeds", index_folder("scale"))
        index = settings.index
        with connect(dsn) as conn:
            began = time.perf_counter()
            with conn.transaction():
                tables.lock_writers(conn)
                tables.prepare_vector_column(conn, scale.DIM)
                tables.insert_rows(conn, documents, table, (vectors, vectors, vectors), generation=0)
            figures["pg_copy_s"] = time.perf_counter() - began
            began = time.perf_counter()
            with conn.transaction():
                tables.create_vector_index(conn, index.hnsw_m, ef_construction_for(index.hnsw_m))
                tables.bump_generation(conn, settings_of(fingerprint_for(settings, embedder, [])))
            figures["pg_hnsw_s"] = time.perf_counter() - began
            size = conn.execute("SELECT pg_database_size(current_database())").fetchone()
            figures["pg_database_mb"] = round(int(size[0]) / 2**20, 1) if size else None
        print(figures, flush=True)
        began = time.perf_counter()
        data = backend.load(settings)
        figures["pg_load_s"] = time.perf_counter() - began
        began = time.perf_counter()
        in_database = QAService(settings, embedder, data)
        figures["pg_engine_init_s"] = time.perf_counter() - began

        route = SearchRoute(search_pool(dsn), search_pool(dsn))
        exact = PgVectorIndex(route, range(args.chunks), exact=True, ef_search=index.hnsw_ef_search)
        truth = [list(exact.search(q.reshape(1, -1), 10)[1][0]) for q in query_vectors]
        found = [list(data.vectors.search(q.reshape(1, -1), 10)[1][0]) for q in query_vectors]
        figures["pg_recall@10"] = round(recall(found, truth), 4)
        for name, share in (("filtered_1pct", 0.01), ("filtered_25pct", 0.25)):
            allowed = np.arange(int(args.chunks * share), dtype=np.int64)  # whole documents: ids run in order
            truth = [list(exact.search(q.reshape(1, -1), 10, allowed)[1][0]) for q in query_vectors]
            hits = [data.vectors.search(q.reshape(1, -1), 10, allowed)[1][0] for q in query_vectors]
            figures[f"pg_{name}_recall@10"] = round(recall([list(h[h >= 0]) for h in hits], truth), 4)
            figures[f"pg_{name}_full_k"] = round(sum(int((h >= 0).sum()) == 10 for h in hits) / len(hits), 4)
            figures[f"pg_{name}_dense"] = latency(
                lambda q, allowed=allowed: data.vectors.search(q.reshape(1, -1), 50, allowed), list(query_vectors)
            )
        figures["pg_dense"] = latency(lambda q: data.vectors.search(q.reshape(1, -1), 50), list(query_vectors))
        figures["pg_bm25"] = latency(in_database.data.lexical.scores, questions)  # type: ignore[union-attr]
        figures["pg_ask"] = latency(in_database.ask, questions)
        print(figures, flush=True)

        began = time.perf_counter()
        faiss_index = FaissIndex.create(scale.DIM, "hnsw", index.hnsw_m, index.hnsw_ef_search,
                                        ef_construction_for(index.hnsw_m))  # fmt: skip
        faiss_index.add(vectors, np.arange(args.chunks, dtype=np.int64))
        figures["local_hnsw_s"] = time.perf_counter() - began
        manifest = Manifest(fingerprint_for(settings, embedder, documents), "synthetic", 0.0, "hnsw",
                            args.chunks, args.chunks, {})  # fmt: skip
        local_data = IndexData(manifest, {d.doc_id: d for d in documents}, table.sentences, table.chunks,
                               faiss_index, vectors, table.clauses, vectors, table.candidates)  # fmt: skip
        began = time.perf_counter()
        on_disk = QAService(settings, embedder, local_data)
        figures["local_engine_init_s"] = time.perf_counter() - began  # includes the bm25s build
        flat = FaissIndex.create(scale.DIM, "flat")
        flat.add(vectors, np.arange(args.chunks, dtype=np.int64))
        truth = [list(flat.search(q, 10)[1][0]) for q in query_vectors]
        found = [list(faiss_index.search(q, 10)[1][0]) for q in query_vectors]
        figures["local_recall@10"] = round(recall(found, truth), 4)
        for name, share in (("filtered_1pct", 0.01), ("filtered_25pct", 0.25)):
            allowed = np.arange(int(args.chunks * share), dtype=np.int64)
            truth = [list(flat.search(q, 10, allowed)[1][0]) for q in query_vectors]
            hits = [faiss_index.search(q, 10, allowed)[1][0] for q in query_vectors]
            figures[f"local_{name}_recall@10"] = round(recall([list(h[h >= 0]) for h in hits], truth), 4)
            figures[f"local_{name}_full_k"] = round(sum(int((h >= 0).sum()) == 10 for h in hits) / len(hits), 4)
        figures["local_dense"] = latency(lambda q: faiss_index.search(q.reshape(1, -1), 50), list(query_vectors))
        figures["local_ask"] = latency(on_disk.ask, questions)
        same = sum(
            [p.chunk_id for p in on_disk.search(q, 5)] == [p.chunk_id for p in in_database.search(q, 5)]
            for q in questions[:50]
        )
        figures["same_top5_of_50"] = same
    finally:
        from rag.index.postgres.connections import close_pools

        close_pools()
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)
    print(figures, flush=True)
    header = ["store", "build s", "load+init s", "recall@10", "dense p50 ms", "ask p50 ms", "ask p95 ms", "size MB"]
    print(common.table(header, [
        ["postgres", round(figures["pg_copy_s"] + figures["pg_hnsw_s"], 1),
         round(figures["pg_load_s"] + figures["pg_engine_init_s"], 1), figures["pg_recall@10"],
         round(figures["pg_dense"]["median_ms"], 2), round(figures["pg_ask"]["median_ms"], 1),
         round(figures["pg_ask"]["p95_ms"], 1), figures["pg_database_mb"]],
        ["local", round(figures["local_hnsw_s"], 1), round(figures["local_engine_init_s"], 1),
         figures["local_recall@10"], round(figures["local_dense"]["median_ms"], 2),
         round(figures["local_ask"]["median_ms"], 1), round(figures["local_ask"]["p95_ms"], 1), "-"],
    ]))  # fmt: skip
    print(common.table(["filter", "store", "recall@10", "share of queries with 10 results"], [
        [name, store, figures[f"{store}_{name}_recall@10"], figures[f"{store}_{name}_full_k"]]
        for name in ("filtered_1pct", "filtered_25pct") for store in ("pg", "local")
    ]))  # fmt: skip
    common.save_result("postgres_scale", figures)


if __name__ == "__main__":
    main()
