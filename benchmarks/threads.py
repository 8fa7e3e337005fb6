"""ONNX intra-op threads by load: one thread, two threads, or two only when a question is alone.

    python benchmarks/threads.py [--duration 8] [--concurrency 1 2 4 8] [--backends onnx-int8 onnx]

In process, as the server embeds questions: ``concurrency`` Python threads each embed gold
questions one at a time, back to back, for ``duration`` seconds (after a short warm-up), on
one ``OnnxEmbedder`` with the rule under test:

- ``1 thread``: every question on a one-thread session (the rule before this work);
- ``2 threads``: every question on a two-thread session (spinning off);
- ``by load``: two threads when the question is the only one being embedded, else one
  (``[embedding] threads = 1``, ``lone_threads = 2``).

Reported per cell: median and p95 latency of one ``embed([question])``, questions/s, and the
process's CPU time per question (what a dedicated 2-core host would be limited by: on a
shared machine a process with more threads also takes a larger share of the cores). On a
shared machine the load drifts from second to second, so each concurrency runs ``rounds``
rounds, each giving every rule ``duration / rounds`` seconds in turn; a cell pools its rounds.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

RULES = {"1 thread": (1, 1), "2 threads": (2, 2), "by load (2 alone, else 1)": (1, 2)}


def run_slice(
    embedder: Any, questions: list[str], concurrency: int, duration: float
) -> tuple[list[float], float, float]:
    """Per-call seconds of every question finished in ``duration`` seconds, the wall time
    measured, and the CPU time this process used meanwhile (all its threads)."""
    samples: list[list[float]] = [[] for _ in range(concurrency)]
    stop = threading.Event()
    measuring = threading.Event()

    def worker(slot: int) -> None:
        i = slot * 7
        while not stop.is_set():
            question = questions[i % len(questions)]
            i += 1
            started = time.perf_counter()
            embedder.embed([question])
            if measuring.is_set():
                samples[slot].append(time.perf_counter() - started)

    threads = [threading.Thread(target=worker, args=(slot,)) for slot in range(concurrency)]
    for t in threads:
        t.start()
    time.sleep(min(0.5, duration / 4))  # warm-up: every worker thread running
    measuring.set()
    started, cpu_started = time.perf_counter(), time.process_time()
    time.sleep(duration)
    measuring.clear()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    stop.set()
    for t in threads:
        t.join()
    return [s for per in samples for s in per], elapsed, cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per cell, over all rounds")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--backends", nargs="+", default=["onnx-int8", "onnx"])
    args = parser.parse_args()
    os.chdir(common.ROOT)
    work = common.work_dir()
    os.environ.update(common.base_env())

    from rag.embedding.models import onnx_embedder

    common.print_header("ONNX threads by load (in process)")
    questions = [q for q, _ in common.question_mix()]
    rows: list[list[object]] = []
    results: dict[str, dict[str, float]] = {}
    for backend in args.backends:
        embedders = {
            rule: onnx_embedder("all-MiniLM-L6-v2", backend, 32, work / "threads-models", threads=t, lone_threads=lone)
            for rule, (t, lone) in RULES.items()
        }
        for concurrency in args.concurrency:
            pooled: dict[str, tuple[list[float], float, float]] = {rule: ([], 0.0, 0.0) for rule in embedders}
            for _ in range(args.rounds):
                for rule, embedder in embedders.items():
                    samples, elapsed, cpu = run_slice(embedder, questions, concurrency, args.duration / args.rounds)
                    before = pooled[rule]
                    pooled[rule] = (before[0] + samples, before[1] + elapsed, before[2] + cpu)
            for rule, (samples, elapsed, cpu) in pooled.items():
                cell = {**common.summarise_ms(samples), "per_s": len(samples) / elapsed,
                        "cpu_ms_per_question": 1000 * cpu / max(1, len(samples))}
                results[f"{backend}/{rule}/c{concurrency}"] = cell
                rows.append([backend, concurrency, rule, cell["median_ms"], cell["p95_ms"], cell["per_s"],
                             cell["cpu_ms_per_question"]])
                print("  " + " | ".join(str(v) for v in rows[-1]), file=sys.stderr, flush=True)
    print(common.table(
        ["backend", "concurrent questions", "rule", "median ms", "p95 ms", "questions/s", "CPU ms per question"], rows
    ))
    print(f"\n{len(questions)} questions rotated; {args.duration:.0f} s per cell in {args.rounds} rounds "
          f"interleaved with the other rules; {os.cpu_count()} cores.")
    common.save_result("threads", {"results": results})


if __name__ == "__main__":
    main()
