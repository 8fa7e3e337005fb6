"""Helpers shared by the benchmark scripts: timing, tables, machine state, servers, results.

Benchmarks print Markdown tables and write their figures to ``benchmarks/results/<name>.json``
(not committed); ``run_all.py`` collects the tables into ``benchmarks/REPORT.md``.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
PYTHON = sys.executable


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-quantile (0..1) by linear interpolation; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summarise_ms(samples_s: Sequence[float]) -> dict[str, float]:
    ms = [s * 1000 for s in samples_s]
    return {
        "median_ms": statistics.median(ms),
        "p95_ms": percentile(ms, 0.95),
        "p99_ms": percentile(ms, 0.99),
        "mean_ms": statistics.fmean(ms),
        "n": len(ms),
    }


def time_calls(fn: Callable[[], object], repeat: int, warmup: int = 3) -> list[float]:
    """Wall-clock seconds of ``repeat`` calls of ``fn`` after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return samples


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    def cell(value: object) -> str:
        if isinstance(value, float):
            if value != value:  # NaN
                return "n/a"
            return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
        return str(value)

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def load_average() -> str:
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "n/a"
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "load_average_1_5_15": load_average(),
    }


def busy_other_processes(threshold: float = 20.0) -> list[str]:
    """Other processes using a noticeable share of a core right now (they skew timings)."""
    import psutil

    mine = {os.getpid(), *(p.pid for p in psutil.Process().children(recursive=True))}
    procs = [p for p in psutil.process_iter(["pid", "name", "cmdline"]) if p.pid not in mine]
    for p in procs:
        with contextlib.suppress(psutil.Error):
            p.cpu_percent(None)
    time.sleep(0.5)
    busy = []
    for p in procs:
        try:
            share = p.cpu_percent(None)
        except psutil.Error:
            continue
        if share >= threshold:
            cmd = " ".join(p.info.get("cmdline") or [p.info.get("name") or "?"])[:60]
            busy.append(f"{share:.0f}% {cmd}")
    return busy


def save_result(name: str, payload: dict[str, Any]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {"machine": machine(), **payload}
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_tree_mb(pid: int) -> float:
    """Resident memory of a process and all its children, in MB."""
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return float("nan")
    total = 0
    for proc in procs:
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            continue
    return total / 1e6


def rss_mb() -> float:
    import psutil

    return float(psutil.Process().memory_info().rss) / 1e6


def work_dir() -> Path:
    """The benchmarks' scratch folder: ``$RAG_BENCH_DIR``, default /tmp/rag-bench."""
    return Path(os.environ.get("RAG_BENCH_DIR", "/tmp/rag-bench"))


# Every question computed in full: no question-vector cache and no answer cache.
NO_CACHE = {"RAG_EMBEDDING__QUERY_CACHE_SIZE": "0", "RAG_ANSWERING__ANSWER_CACHE_SIZE": "0"}


def base_env(index_dir: Path | None = None, **overrides: str) -> dict[str, str]:
    """The environment for a server or CLI under test: no RAG_* leaking in, hub off."""
    # RAG_BENCH_DIR is the benchmarks' own scratch folder, not a service setting: keep it.
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_") or k == "RAG_BENCH_DIR"}
    env["HF_HUB_OFFLINE"] = "1"
    env["TRANSFORMERS_OFFLINE"] = "1"
    env["TOKENIZERS_PARALLELISM"] = "false"
    if index_dir is not None:
        env["RAG_PATHS__INDEX"] = str(index_dir)
    env.update(overrides)
    return env


class Server:
    """``rag serve`` in its own process group on a free port; stopped on exit."""

    def __init__(
        self, env: dict[str, str], cwd: Path = ROOT, workers: int = 1, log_path: Path | None = None
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = env
        self.cwd = cwd
        self.workers = workers
        self.log_path = log_path or (RESULTS / f"server-{self.port}.log")
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0

    def start(self) -> Server:
        RESULTS.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("wb")
        command = [PYTHON, "-m", "rag.cli", "serve", "--port", str(self.port), "--workers", str(self.workers)]
        self.started_at = time.perf_counter()
        self.proc = subprocess.Popen(
            command, cwd=self.cwd, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        return self

    def wait_ready(self, timeout: float = 300.0) -> float:
        """Seconds from start until /ready answers 200."""
        import httpx

        deadline = time.perf_counter() + timeout
        with httpx.Client(timeout=2.0) as client:
            while time.perf_counter() < deadline:
                assert self.proc is not None
                if self.proc.poll() is not None:
                    raise RuntimeError(f"server exited with {self.proc.returncode}; see {self.log_path}")
                try:
                    if client.get(self.url + "/ready").status_code == 200:
                        return time.perf_counter() - self.started_at
                except httpx.HTTPError:
                    pass
                time.sleep(0.05)
        raise TimeoutError(f"server not ready after {timeout}s; see {self.log_path}")

    def rss_mb(self) -> float:
        return rss_tree_mb(self.proc.pid) if self.proc else float("nan")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        import signal

        try:
            os.killpg(self.proc.pid, signal.SIGTERM)  # our own process group only
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        except ProcessLookupError:
            pass

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def gold_questions(path: Path = ROOT / "eval" / "dev.jsonl") -> list[tuple[str, bool]]:
    """``(question, answerable)`` pairs of a gold set."""
    pairs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            item = json.loads(line)
            pairs.append((item["question"], item.get("kind") != "unanswerable"))
    return pairs


# A fixed mix for load tests: the dev set's questions (answerable and not) plus some more
# that the sources cannot answer.
EXTRA_UNANSWERABLE = [
    "What is the boiling point of tungsten?",
    "Who won the 1998 FIFA World Cup?",
    "How many moons does Neptune have?",
    "What is the capital of Australia?",
    "Which programming language was created by Guido van Rossum?",
]


def question_mix() -> list[tuple[str, bool]]:
    return [*gold_questions(), *((q, False) for q in EXTRA_UNANSWERABLE)]


def print_header(title: str) -> None:
    print(f"\n## {title}\n")
    print(f"machine: {machine()['cpu']}, {os.cpu_count()} cores; load average at start {load_average()}")
    busy = busy_other_processes()
    if busy:
        print(f"other busy processes at start: {'; '.join(busy)}")
    print()
