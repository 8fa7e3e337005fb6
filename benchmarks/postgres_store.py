"""The PostgreSQL store next to the local one: gold-set figures, start-up, ask latency, replica delay.

    python benchmarks/postgres_store.py [--sections parity startup replica] [--repeat 10]

A throwaway PostgreSQL 16 + pgvector 0.6 comes from the pgserver wheel (in ``.[dev]``), in a
scratch folder under ``$RAG_BENCH_DIR``. The model is the configured one (ONNX
all-MiniLM-L6-v2); its export is reused from ``index/onnx`` when present.

- ``parity``: every gold set on both stores: ``eval/dev.jsonl`` and ``eval/own.jsonl`` over
  ``seeds/``, and ``eval/corpus/gold/*.jsonl`` over ``eval/corpus/docs`` (copied as ``.txt``
  seed files); hit@3, MRR@10, token F1, abstention, and the ``ask`` latency of each
  question (median and p95, one at a time, the question cache off).
- ``startup``: the server's own start, the first open (chunk, embed and write) and a
  reopen (load) for each store.
- ``replica``: a document written (one transaction, as ``POST /documents`` does), and the
  time from its commit until a second engine in another thread, woken by ``NOTIFY``, has
  loaded it and swapped it in (``rag.engine.live.LiveEngine.follow``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

ROOT = common.ROOT
SCRATCH = common.work_dir() / "postgres-store"


def settings_for(backend: str, dsn: str, seeds: Path, index: Path) -> Any:
    from rag.config import load_settings

    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(
        RAG_CONFIG=str(ROOT / "config" / "rag.toml"),
        RAG_PATHS__SEEDS=str(seeds),
        RAG_PATHS__INDEX=str(index),
        RAG_STORE__BACKEND=backend,
        RAG_STORE__DSN=dsn if backend == "postgres" else "",
        **common.NO_CACHE,
    )
    return load_settings(environ=env)


def fresh_database(server: Any, name: str) -> str:
    import psycopg

    from rag.index.postgres.backend import upgrade
    from rag.index.postgres.connections import close_pools

    close_pools()
    with psycopg.connect(server.get_uri(), autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {name}")
    dsn: str = server.get_uri(name)
    upgrade(dsn)
    return dsn


def index_folder(name: str) -> Path:
    """A scratch index folder holding the ONNX export, so no store pays for exporting the model."""
    folder = SCRATCH / f"index-{name}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for source in (ROOT / "index" / "onnx", Path("/work/main/index/onnx")):
        if source.is_dir():
            shutil.copytree(source, folder / "onnx")
            break
    return folder


def corpus_seeds() -> Path:
    folder = SCRATCH / "corpus-seeds"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for path in sorted((ROOT / "eval" / "corpus" / "docs").iterdir()):
        (folder / f"{path.stem}.txt").write_bytes(path.read_bytes())
    return folder


def gold_sets() -> list[tuple[str, Path, list[Path]]]:
    corpus = sorted((ROOT / "eval" / "corpus" / "gold").glob("*.jsonl"))
    return [
        ("dev", ROOT / "seeds", [ROOT / "eval" / "dev.jsonl"]),
        ("own", ROOT / "seeds", [ROOT / "eval" / "own.jsonl"]),
        ("corpus", corpus_seeds(), corpus),
    ]


def parity(server: Any, embedder: Any) -> list[dict[str, Any]]:
    from rag.engine.service import QAService
    from rag.eval.metrics import evaluate, load_gold

    rows = []
    for name, seeds, paths in gold_sets():
        items = [item for path in paths for item in load_gold(path)]
        for backend in ("local", "postgres"):
            dsn = fresh_database(server, f"parity_{name}") if backend == "postgres" else ""
            settings = settings_for(backend, dsn, seeds, index_folder(f"{name}-{backend}"))
            service = QAService.open(settings, embedder=embedder)
            report = evaluate(service, items)
            figures = report.summary["all"]
            answerable = report.summary["answerable"]
            latencies = [o.latency_ms / 1000 for o in report.outcomes]
            timing = common.summarise_ms(latencies)
            rows.append(
                {
                    "set": name,
                    "store": backend,
                    "questions": len(items),
                    "hit@3": answerable["hit@3"],
                    "mrr@10": answerable["mrr@10"],
                    "token_f1": answerable["token_f1"],
                    "abstained_unanswerable": report.summary.get("unanswerable", {}).get("abstained_unanswerable"),
                    "ask_median_ms": round(timing["median_ms"], 2),
                    "ask_p95_ms": round(timing["p95_ms"], 2),
                    "chunks": service.data.manifest.chunks,
                    "all_hit@3": figures["hit@3"],
                }
            )
            print(rows[-1], flush=True)
    return rows


def startup(server: Any, embedder: Any, started_server_s: float) -> list[dict[str, Any]]:
    from rag.engine.service import QAService

    seeds = corpus_seeds()
    rows = [{"step": "pgserver start (initdb + postgres)", "store": "postgres", "seconds": round(started_server_s, 2)}]
    for backend in ("local", "postgres"):
        dsn = fresh_database(server, "startup") if backend == "postgres" else ""
        settings = settings_for(backend, dsn, seeds, index_folder(f"startup-{backend}"))
        began = time.perf_counter()
        first = QAService.open(settings, embedder=embedder)
        built = time.perf_counter() - began
        began = time.perf_counter()
        QAService.open(settings, embedder=embedder)
        loaded = time.perf_counter() - began
        chunks = first.data.manifest.chunks
        rows.append({"step": f"first open: build {chunks} chunks", "store": backend, "seconds": round(built, 2)})
        rows.append({"step": "reopen: load", "store": backend, "seconds": round(loaded, 3)})
        print(rows[-2:], flush=True)
    return rows


def replica(server: Any, embedder: Any, repeat: int) -> dict[str, Any]:
    from rag.documents.loading import make_document
    from rag.engine.live import LiveEngine
    from rag.engine.service import QAService
    from rag.index.postgres import backend

    dsn = fresh_database(server, "replica")
    settings = settings_for("postgres", dsn, ROOT / "seeds", index_folder("replica"))
    QAService.open(settings, embedder=embedder)  # builds the store
    reader = LiveEngine(settings, open_engine=lambda s: QAService.open(s, embedder=embedder))
    reader.load()
    stop = threading.Event()
    follower = threading.Thread(target=reader.follow, args=(stop, 60.0))
    follower.start()
    time.sleep(1.0)  # the listener connects
    delays = []
    for n in range(repeat):
        before = reader.require()
        text = f"Replica note {n}: the zircon booster landed on barge {n}.\n"
        document = make_document("replica-note", text, "replica-note.txt")
        backend.change_document(settings, embedder, upsert=document)  # returns right after the commit
        committed = time.perf_counter()
        deadline = committed + 30
        while reader.require() is before:  # the swap is one assignment; poll it every 0.2 ms
            if time.perf_counter() > deadline:
                raise RuntimeError("the follower did not load the change")
            time.sleep(0.0002)
        delays.append(time.perf_counter() - committed)
        assert f"barge {n}" in reader.require().document("replica-note").text
    stop.set()
    follower.join(10)
    figures = common.summarise_ms(delays)
    row = {"writes": repeat, "median_ms": round(figures["median_ms"], 1), "max_ms": round(max(delays) * 1000, 1)}
    print(row, flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sections", nargs="+", default=["parity", "startup", "replica"])
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    import pgserver

    from rag.config import load_settings
    from rag.embedding.registry import create_embedder

    SCRATCH.mkdir(parents=True, exist_ok=True)
    data = tempfile.mkdtemp(prefix="rag-bench-pg-")
    began = time.perf_counter()
    server = pgserver.get_server(data, cleanup_mode="stop")
    started_s = time.perf_counter() - began
    base = load_settings()
    embedder = create_embedder(base.embedding.model, base.embedding.backend, base.embedding.batch_size,
                               str(index_folder("model")))  # fmt: skip
    results: dict[str, Any] = {}
    try:
        if "parity" in args.sections:
            results["parity"] = rows = parity(server, embedder)
            keys = list(rows[0])
            print(common.table(keys, [[r[k] for k in keys] for r in rows]))
        if "startup" in args.sections:
            results["startup"] = steps = startup(server, embedder, started_s)
            print(common.table(["step", "store", "seconds"], [[r["step"], r["store"], r["seconds"]] for r in steps]))
        if "replica" in args.sections:
            results["replica"] = replica(server, embedder, args.repeat)
    finally:
        from rag.index.postgres.connections import close_pools

        close_pools()
        server.cleanup()
        shutil.rmtree(data, ignore_errors=True)
    common.save_result("postgres_store", results)


if __name__ == "__main__":
    main()
