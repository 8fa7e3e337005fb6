"""A closed-loop HTTP load generator (asyncio + httpx), for machines without ``wrk``.

    echo '["{\\"question\\": \\"...\\"}", ...]' | python benchmarks/loadgen.py URL --concurrency 8 --duration 10

Reads a JSON list of request bodies on stdin, posts them in rotation from ``concurrency``
connections for ``duration`` seconds, and prints one JSON line of figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common


async def run(url: str, bodies: list[bytes], concurrency: int, duration: float) -> dict[str, float]:
    import httpx

    latencies: list[float] = []
    errors = 0
    non_2xx = 0
    counter = 0
    deadline = time.perf_counter() + duration
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=10.0) as client:

        async def worker() -> None:
            nonlocal errors, non_2xx, counter
            while time.perf_counter() < deadline:
                body = bodies[counter % len(bodies)]
                counter += 1
                started = time.perf_counter()
                try:
                    response = await client.post(url, content=body, headers={"Content-Type": "application/json"})
                except httpx.HTTPError:
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - started)
                if not 200 <= response.status_code < 300:
                    non_2xx += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    summary = common.summarise_ms(latencies)
    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "median_ms": summary["median_ms"],
        "p95_ms": summary["p95_ms"],
        "p99_ms": summary["p99_ms"],
        "max_ms": max(latencies, default=0.0) * 1000,
        "errors": errors + non_2xx,
        "non_2xx": non_2xx,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--duration", type=float, default=10.0)
    args = parser.parse_args()
    bodies = [b.encode() for b in json.loads(sys.stdin.read())]
    print(json.dumps(asyncio.run(run(args.url, bodies, args.concurrency, args.duration))))


if __name__ == "__main__":
    main()
