"""Run every benchmark and write benchmarks/REPORT.md.

    python benchmarks/run_all.py [--quick] [--only serving scale ...]

Each benchmark runs as its own process (so one's memory or threads never skew another's) and
prints Markdown; this script collects their output, adds a check of the service's latency
targets from their JSON results (benchmarks/results/), and writes the report. A partial
rerun (``--only``) keeps the committed report's other sections and its targets table (the
sections of benchmarks it has never run on this machine too; ``benchmarks/results/`` only names
which section is which benchmark's). ``--quick`` shortens every run (smaller
sizes, shorter load tests) for a smoke test of the scripts; its figures are not the ones
to quote.
"""

from __future__ import annotations

import argparse
import datetime
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

HERE = Path(__file__).resolve().parent
REPORT = HERE / "REPORT.md"

FULL = {
    "query_path": ["--repeat", "5"],
    "serving": ["--duration", "10"],
    "cold_start": ["--repeat", "3"],
    "indexing": ["--passages", "10000", "--sample", "256"],
    "scale": ["--sizes", "10000", "100000", "1000000"],
    "int8": ["--repeat", "3"],
    "threads": ["--duration", "8"],
    "open_time": ["--sizes", "1000", "10000"],
    "pooling": ["--sets", "dev", "own", "corpus"],
    "sentence_bound": ["--sets", "dev", "own", "corpus"],
    "build_stages": ["--repeat", "2"],
    "corpus_scale": ["--sizes", "10000", "100000", "1000000"],
    "llamaindex": ["--repeat", "2"],
    "span_training": ["--examples", "960", "--rounds", "2"],
}
QUICK = {
    "query_path": ["--repeat", "1"],
    "serving": ["--duration", "3", "--warmup", "1", "--configs", "torch", "onnx"],
    "cold_start": ["--repeat", "1", "--backends", "onnx"],
    "indexing": ["--passages", "500", "--sample", "64"],
    "scale": ["--sizes", "10000", "--queries", "100"],
    "int8": ["--repeat", "1", "--sets", "dev"],
    "threads": ["--duration", "2", "--concurrency", "1", "4", "--backends", "onnx-int8"],
    "open_time": ["--sizes", "300", "--repeat", "1"],
    "pooling": ["--sets", "dev"],
    "sentence_bound": ["--sets", "dev"],
    "build_stages": ["--repeat", "1"],
    "corpus_scale": ["--sizes", "300", "3000", "--base-chunks", "300"],
    "llamaindex": ["--repeat", "1", "--limit", "20"],
    "span_training": ["--examples", "48", "--rounds", "1"],
}

TARGETS = """\
| target (seed corpus, this machine) | goal | measured | met |
|---|---|---|---|
"""


def targets() -> str:
    """The issue's targets against the serving and cold-start results (the 'onnx, cache on' configuration)."""
    rows = []
    try:
        serving = json.loads((common.RESULTS / "serving.json").read_text())["results"]
    except (OSError, ValueError, KeyError):
        serving = {}
    try:
        cold = json.loads((common.RESULTS / "cold_start.json").read_text())["results"]
    except (OSError, ValueError, KeyError):
        cold = {}

    def row(name: str, goal: str, value: float | None, ok: bool | None, unit: str) -> None:
        shown = "n/a" if value is None else f"{value:,.1f} {unit}"
        rows.append(f"| {name} | {goal} | {shown} | {'n/a' if ok is None else ('yes' if ok else 'NO')} |")

    for key, label in (("onnx", "onnx, cache on, 1 worker"), ("onnx-2w", "onnx, cache on, 2 workers"),
                       ("onnx-nocache", "onnx, cache off"), ("torch", "torch, cache on"),
                       ("before", "before (first commit)")):
        result = serving.get(key)
        if not result:
            continue
        c1, c32 = result.get("c1", {}), result.get("c32", {})
        row(f"/ask median at concurrency 1 ({label})", "<= 6 ms", c1.get("median_ms"),
            c1.get("median_ms", 1e9) <= 6 if c1 else None, "ms")
        row(f"/ask p95 at concurrency 1 ({label})", "<= 15 ms", c1.get("p95_ms"),
            c1.get("p95_ms", 1e9) <= 15 if c1 else None, "ms")
        row(f"requests/s at concurrency 32 ({label})", ">= 250, 0 errors", c32.get("rps"),
            (c32.get("rps", 0) >= 250 and c32.get("errors", 1) == 0) if c32 else None,
            f"req/s, {int(c32.get('errors', 0))} errors")
    # Issue 13's targets for the default model (onnx-int8): new questions (cache off) and repeated ones.
    for key, label in (("int8-nocache", "1 worker"), ("int8-nocache-2w", "2 workers"),
                       ("int8-nocache-noahead", "1 worker, read ahead off"),
                       ("int8-nocache-nohead", "1 worker, span head off")):
        c1, c32 = serving.get(key, {}).get("c1", {}), serving.get(key, {}).get("c32", {})
        if c1:
            row(f"new questions: /ask median at concurrency 1 (onnx-int8, cache off, {label})", "<= 5 ms",
                c1.get("median_ms"), c1.get("median_ms", 1e9) <= 5, "ms")
        if c32:
            row(f"new questions: requests/s at concurrency 32 (onnx-int8, cache off, {label})",
                ">= 400, p99 <= 150 ms", c32.get("rps"), c32.get("rps", 0) >= 400 and c32.get("p99_ms", 1e9) <= 150,
                f"req/s, p99 {c32.get('p99_ms', 0):.0f} ms")
    for key, label in (("int8", "1 worker"), ("int8-2w", "2 workers")):
        c32 = serving.get(key, {}).get("c32", {})
        if c32:
            row(f"repeated questions: requests/s at concurrency 32 (onnx-int8, cache on, {label})", ">= 800",
                c32.get("rps"), c32.get("rps", 0) >= 800, "req/s")
    for backend, result in cold.items():
        value = result.get("serve_to_first_answer_s")
        row(f"cold start to first answer ({backend})", "<= 10 s", value, value <= 10 if value else None, "s")
    return TARGETS + "\n".join(rows) + "\n"


def title_of(section: str) -> str:
    first = section.lstrip().split("\n", 1)[0]
    return first[3:].strip() if first.startswith("## ") else first.strip()


def report_sections(path: Path) -> dict[str, str]:
    """The ``## `` sections of an existing report, by title (empty when there is none)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return {}
    chunks = ["## " + chunk for chunk in text.split("\n## ")[1:]]
    return {title_of(chunk): chunk.strip() for chunk in chunks}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", nargs="+", choices=list(FULL))
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    names = args.only or list(plan)
    sections: dict[str, str] = {}
    timings: dict[str, float] = {}
    for name in names:
        print(f"== {name} ({' '.join(plan[name])})", flush=True)
        started = time.perf_counter()
        done = subprocess.run(
            [common.PYTHON, str(HERE / f"{name}.py"), *plan[name]],
            cwd=common.ROOT, capture_output=True, text=True, env=common.base_env(),
        )
        timings[name] = time.perf_counter() - started
        text = done.stdout.strip()
        if done.returncode != 0:
            text += f"\n\n**failed** (exit {done.returncode}):\n\n```\n{done.stderr[-3000:]}\n```"
        sections[name] = text
        if not args.quick:
            common.RESULTS.mkdir(parents=True, exist_ok=True)
            (common.RESULTS / f"{name}.section.json").write_text(json.dumps({"markdown": text}), encoding="utf-8")
        print(text, flush=True)
    earlier = report_sections(REPORT) if not args.quick else {}
    if not args.quick:  # a partial rerun keeps the other benchmarks' sections
        for name in FULL:
            saved = common.RESULTS / f"{name}.section.json"
            if name not in sections and saved.exists():
                text = json.loads(saved.read_text(encoding="utf-8"))["markdown"].strip()
                # The committed report's section of that title wins: this machine's results folder
                # (not in git) may hold an older run than the one the report was written from.
                sections[name] = earlier.get(title_of(text), text)
                timings.setdefault(name, float("nan"))
        # ... and, where no result of theirs is on this machine (a fresh checkout), the sections
        # of the committed report whose titles this run did not produce.
        produced = {title_of(text) for text in sections.values()}
        for title, text in earlier.items():
            if title not in produced and title != "Targets":
                sections[f"earlier: {title}"] = text
    targets_table = targets()
    reran = {"serving", "cold_start"} & set(names)
    if "Targets" in earlier and (not reran or targets_table.strip() == TARGETS.strip()):  # from the report's runs
        targets_table = earlier["Targets"].split("\n", 1)[1].strip() + "\n"
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    mode = "quick (smoke test: not the figures to quote)" if args.quick else "full"
    parts = [
        "# Benchmarks\n",
        f"Generated by `python benchmarks/run_all.py` ({mode}) on {stamp}. "
        f"Machine: {common.machine()['cpu']}, {common.machine()['cores']} cores. Run times: "
        + ", ".join(f"{n} {s:.0f} s" if s == s else f"{n} (earlier run)" for n, s in timings.items()) + ". "
        + ("Kept from the previous report: " + "; ".join(n.removeprefix("earlier: ") for n in sections
                                                         if n.startswith("earlier: ")) + ".\n"
           if any(n.startswith("earlier: ") for n in sections) else "\n"),
        "Timings on a shared 2-core machine vary with whatever else runs; each section states the "
        "load average and any busy process at its start. What the numbers mean and what was changed "
        "is in benchmarks/README.md.\n",
        "## Targets\n",
        targets_table,
    ]
    parts += [sections[n] for n in FULL if n in sections]
    parts += [text for n, text in sections.items() if n.startswith("earlier: ")]
    REPORT.write_text("\n".join(parts) + "\n", encoding="utf-8")
    print(f"\nwrote {REPORT}")


if __name__ == "__main__":
    main()
