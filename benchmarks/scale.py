"""Dense search at scale: exact vs HNSW vs IVF at 10k, 100k and 1M vectors.

    python benchmarks/scale.py [--sizes 10000 100000 1000000] [--queries 300]

The vectors are synthetic 384-d unit vectors, clustered like sentence embeddings rather than
uniform (on uniform random vectors every point is about equally far from every other, and
ANN recall means little): ``size / 1000`` topic centres, each point its centre plus a
displacement in that topic's own random 48-d subspace plus isotropic noise in all 384
dimensions, then normalised. A query's nearest neighbour then has cosine ~0.5 and its 10th
~0.4 (all-MiniLM-L6-v2 gives 0.4-0.8 for related sentences); with less noise every index
reaches recall 1.0 and the comparison says nothing. Queries are fresh draws from the same
mixture. Recall@10 is measured against the exact result (IndexFlatIP); latency is one query
at a time on one thread, as the server searches. Memory is FAISS's own account of the index
(vectors, links, ids); the process's peak RSS is printed at the end.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

DIM = 384
SUBSPACE = 48
DISPLACEMENT = 0.8  # along the topic's subspace
NOISE = 0.6  # isotropic, in every dimension


def clustered(count: int, centres: Any, bases: Any, rng: Any) -> Any:
    import numpy as np

    out = np.empty((count, DIM), dtype=np.float32)
    labels = rng.integers(0, len(centres), count)
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(len(centres) + 1))
    for c in range(len(centres)):
        rows = order[bounds[c] : bounds[c + 1]]
        if not len(rows):
            continue
        z = rng.standard_normal((len(rows), SUBSPACE), dtype=np.float32)
        noise = rng.standard_normal((len(rows), DIM), dtype=np.float32) / np.sqrt(DIM)
        out[rows] = centres[c] + DISPLACEMENT * (z @ bases[c]) + NOISE * noise
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


def dataset(size: int, queries: int, seed: int = 0) -> tuple[Any, Any]:
    import numpy as np

    rng = np.random.default_rng(seed)
    topics = max(10, size // 1000)
    centres = rng.standard_normal((topics, DIM), dtype=np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    bases = rng.standard_normal((topics, SUBSPACE, DIM), dtype=np.float32) / np.sqrt(DIM)
    data = np.vstack([clustered(min(200_000, size - i), centres, bases, rng) for i in range(0, size, 200_000)])
    return data, clustered(queries, centres, bases, rng)


def progress(row: list[object]) -> None:
    """One finished row on stderr, so a long run shows where it is."""
    print("  " + " | ".join(str(v) for v in row), file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--hnsw-m", type=int, default=32)
    parser.add_argument("--ef-search", type=int, nargs="+", default=[32, 64, 128, 256])
    parser.add_argument("--nprobe", type=int, nargs="+", default=[8, 16, 32, 64])
    parser.add_argument("--skip-ivf", action="store_true")
    args = parser.parse_args()

    import faiss
    import numpy as np

    from rag.index.vectors import FaissIndex, ef_construction_for

    common.print_header("Dense search at scale (synthetic clustered 384-d vectors)")
    rows: list[list[object]] = []
    results: dict[str, Any] = {}
    threads = faiss.omp_get_max_threads()

    def latency(search: Any, queries: Any) -> dict[str, float]:
        for q in queries[:10]:
            search(q)
        samples = []
        for q in queries:
            started = time.perf_counter()
            search(q)
            samples.append(time.perf_counter() - started)
        return common.summarise_ms(samples)

    def recall(found: Any, truth: Any) -> float:
        return float(np.mean([len(set(f[f >= 0]) & set(t)) / len(t) for f, t in zip(found, truth, strict=True)]))

    for size in args.sizes:
        started = time.perf_counter()
        data, queries = dataset(size, args.queries)
        generated = time.perf_counter() - started
        ids = np.arange(size, dtype=np.int64)

        flat = FaissIndex.create(DIM, "flat")
        started = time.perf_counter()
        flat.add(data, ids)
        build = time.perf_counter() - started
        faiss.omp_set_num_threads(threads)
        truth_scores, truth = flat._index.search(queries, 10)  # batched, every core
        lat = latency(lambda q, index=flat: index.search(q, 10), queries)
        print(f"{size:,}: generated in {generated:.1f} s; nearest-neighbour cosine "
              f"{truth_scores[:, 0].mean():.2f}, 10th {truth_scores[:, 9].mean():.2f}")
        key = f"{size}/flat"
        results[key] = {**lat, "build_s": build, "recall10": 1.0, "memory_mb": flat.memory_bytes() / 1e6}
        rows.append([f"{size:,}", "exact (IndexFlatIP)", "-", build, lat["median_ms"], lat["p95_ms"], 1.0,
                     flat.memory_bytes() / 1e6])
        progress(rows[-1])
        del flat
        gc.collect()

        efc = ef_construction_for(args.hnsw_m)
        hnsw = FaissIndex.create(DIM, "hnsw", args.hnsw_m, 128, efc)
        started = time.perf_counter()
        hnsw.add(data, ids)
        build = time.perf_counter() - started
        for ef in args.ef_search:
            hnsw.set_ef_search(ef)
            found = np.vstack([hnsw.search(q, 10)[1] for q in queries])
            lat = latency(lambda q, index=hnsw: index.search(q, 10), queries)
            rec = recall(found, truth)
            results[f"{size}/hnsw/ef{ef}"] = {**lat, "build_s": build, "recall10": rec,
                                              "memory_mb": hnsw.memory_bytes() / 1e6}
            rows.append([f"{size:,}", f"HNSW M={args.hnsw_m} efC={efc}", f"efSearch={ef}", build, lat["median_ms"],
                         lat["p95_ms"], rec, hnsw.memory_bytes() / 1e6])
            progress(rows[-1])
        del hnsw
        gc.collect()

        if not args.skip_ivf:
            nlist = int(4 * np.sqrt(size))
            quantizer = faiss.IndexFlatIP(DIM)
            ivf = faiss.IndexIVFFlat(quantizer, DIM, nlist, faiss.METRIC_INNER_PRODUCT)
            faiss.omp_set_num_threads(threads)
            started = time.perf_counter()
            train = data[np.random.default_rng(1).choice(size, min(size, 50 * nlist), replace=False)]
            ivf.train(train)
            ivf.add(data)
            build = time.perf_counter() - started
            memory = (size * DIM * 4 + size * 8 + nlist * DIM * 4) / 1e6
            faiss.omp_set_num_threads(1)
            for nprobe in args.nprobe:
                ivf.nprobe = nprobe
                found = np.vstack([ivf.search(q.reshape(1, -1), 10)[1] for q in queries])
                lat = latency(lambda q, index=ivf: index.search(q.reshape(1, -1), 10), queries)
                rec = recall(found, truth)
                results[f"{size}/ivf/nprobe{nprobe}"] = {**lat, "build_s": build, "recall10": rec, "memory_mb": memory}
                rows.append([f"{size:,}", f"IVF-Flat nlist={nlist}", f"nprobe={nprobe}", build, lat["median_ms"],
                             lat["p95_ms"], rec, memory])
                progress(rows[-1])
            del ivf, quantizer
        del data
        gc.collect()

    print()
    print(common.table(
        ["vectors", "index", "search setting", "build s", "median ms", "p95 ms", "recall@10", "index MB"], rows
    ))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nOne query at a time on one thread; {args.queries} queries; builds use {threads} threads. "
          f"Peak RSS of this process: {peak:,.0f} MB.")
    common.save_result("scale", {"results": results, "peak_rss_mb": peak, "pid": os.getpid()})


if __name__ == "__main__":
    main()
