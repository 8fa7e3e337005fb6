"""Regenerate the README's examples and first-run figures from real runs, so they cannot drift.

    python docs/readme_examples.py            # measure, then rewrite the README's generated blocks
    python docs/readme_examples.py --print    # measure and print the blocks only

Each generated block sits between ``<!-- begin generated: NAME -->`` and
``<!-- end generated: NAME -->`` in README.md. What is run, on this checkout's seeds and
``config/rag.toml``, with the configured model:

* ``first-run``: the size of the installed environment; ``rag serve`` in a fresh index folder
  (the one-time ONNX export, then the index build) until ``/ready`` answers 200, with the
  server's peak resident memory; the same again with the index built (a cold start); then
  ``POST /documents`` of a short document, with an API key;
* ``ask-example``: ``POST /ask`` of the README's question (its JSON, the first passage kept);
* ``documents-example``: the first entry of ``GET /documents``.

The machine (platform, cores) and its load average before and after are printed in the
block: figures from a loaded machine are slower, and say so. ``tests/test_readme.py`` checks
the JSON blocks against the code (fields, exact spans, the shape of a real response) and, with
the real model, against a fresh answer. The README's performance and evaluation figures are not
measured here: ``docs/readme_figures.py`` copies them from the committed reports.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
QUESTION = "How does Russia view the latest U.S.-Ukraine draft?"
PORT = 18311
NEW_DOCUMENT = "# Harbour notes\n\nThe Fenwick lighthouse was built in 1872 by the engineer Mara Quill.\n"


def block_pattern(name: str) -> re.Pattern[str]:
    return re.compile(
        rf"(<!-- begin generated: {re.escape(name)} -->\n)(.*?)(<!-- end generated: {re.escape(name)} -->)", re.S
    )


def generated_block(text: str, name: str) -> str:
    match = block_pattern(name).search(text)
    if match is None:
        raise KeyError(f"README.md has no generated block {name!r}")
    return match.group(2)


def replace_block(text: str, name: str, body: str) -> str:
    generated_block(text, name)  # fail loudly on a missing marker
    return block_pattern(name).sub(lambda m: m.group(1) + body + m.group(3), text)


def machine() -> str:
    cores = os.cpu_count()
    return f"{platform.system()} {platform.machine()}, {cores} cores, Python {platform.python_version()}"


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.1f} (1 min) / {five:.1f} (5 min)"


def installed_bytes() -> int:
    site = Path(sys.prefix) / "lib"
    return sum(p.stat().st_size for p in site.rglob("*") if p.is_file() and not p.is_symlink())


class Server:
    """``rag serve`` in a subprocess on ``index``; time to /ready and peak RSS of the process tree."""

    def __init__(self, index: Path, log: Path, key: str | None = None) -> None:
        # Run in the scratch folder, whose seeds/ is a copy of the checkout's: the example upload
        # must never add a document to the real seeds/ (paths in answers stay "seeds/...").
        env = {
            **os.environ,
            "RAG_CONFIG": str(ROOT / "config" / "rag.toml"),
            "RAG_PATHS__INDEX": str(index),
            "RAG_RATE_LIMIT__ENABLED": "false",
        }
        if key:
            env["RAG_SECURITY__API_KEY"] = key
        command = [sys.executable, "-m", "rag.cli", "serve", "--port", str(PORT), "--no-access-log"]
        self.started = time.perf_counter()
        self.log = log
        with log.open("ab") as sink:  # a file, not a pipe: a full pipe would stall the server
            self.proc = subprocess.Popen(command, cwd=index.parent, env=env, stdout=sink, stderr=sink)
        self.peak_rss = 0  # the server process itself
        self.peak_children_rss = 0  # the one-time ONNX export runs torch in a child process
        self.ready_rss = 0

    def wait_ready(self, limit_s: float = 900.0) -> float:
        process = psutil.Process(self.proc.pid)
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"rag serve exited:\n{self.log.read_text(encoding='utf-8', errors='replace')}")
            try:
                self.peak_rss = max(self.peak_rss, process.memory_info().rss)
                children = sum(c.memory_info().rss for c in process.children(recursive=True))
                self.peak_children_rss = max(self.peak_children_rss, children)
            except psutil.NoSuchProcess:  # a child that just exited
                pass
            try:
                if httpx.get(f"http://127.0.0.1:{PORT}/ready", timeout=2).status_code == 200:
                    self.ready_rss = process.memory_info().rss
                    return time.perf_counter() - self.started
            except httpx.TransportError:
                pass
            if time.perf_counter() - self.started > limit_s:
                raise TimeoutError("rag serve was not ready in time")
            time.sleep(0.1)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


def measure() -> dict[str, Any]:
    figures: dict[str, Any] = {"machine": machine(), "load_before": load(), "installed_gb": installed_bytes() / 1e9}
    with tempfile.TemporaryDirectory(prefix="rag-readme-") as scratch:
        index = Path(scratch) / "index"
        shutil.copytree(ROOT / "seeds", Path(scratch) / "seeds")
        first = Server(index, Path(scratch) / "first.log")
        figures["first_ready_s"] = first.wait_ready()
        figures["first_peak_mb"] = first.peak_rss / 1e6
        figures["export_peak_mb"] = first.peak_children_rss / 1e6
        figures["first_ready_mb"] = first.ready_rss / 1e6
        first.stop()
        key = "readme-example-key-" + os.urandom(8).hex()
        second = Server(index, Path(scratch) / "second.log", key)
        try:
            figures["cold_ready_s"] = second.wait_ready()
            figures["cold_peak_mb"] = second.ready_rss / 1e6
            base = f"http://127.0.0.1:{PORT}"
            with httpx.Client(base_url=base, timeout=60) as client:
                figures["ask"] = client.post("/ask", json={"question": QUESTION}).json()
                figures["documents"] = client.get("/documents").json()
                started = time.perf_counter()
                added = client.post(  # ?wait=true: until the document is served, not only queued
                    "/documents", params={"wait": "true"}, json={"text": NEW_DOCUMENT, "doc_id": "harbour-notes"},
                    headers={"X-API-Key": key},
                )
                figures["add_s"] = time.perf_counter() - started
                added.raise_for_status()
        finally:
            second.stop()
    figures["load_after"] = load()
    return figures


def blocks(figures: dict[str, Any]) -> dict[str, str]:
    ask = dict(figures["ask"])
    ask["passages"] = ask["passages"][:1]
    for passage in ask["passages"]:
        passage["text"] = passage["text"][:80] + "…"
    first_run = (
        f"| measured by `docs/readme_examples.py` | |\n|---|---|\n"
        f"| installed environment (`.venv/lib`) | {figures['installed_gb']:.1f} GB |\n"
        f"| first `rag serve` until ready (the ONNX exports of the embedder and the span head once, "
        f"then the index build) "
        f"| {figures['first_ready_s']:.1f} s; the server {figures['first_peak_mb']:.0f} MB resident at its peak "
        f"(the build), {figures['first_ready_mb']:.0f} MB once ready; the export's own process (torch, "
        f"gone before serving) {figures['export_peak_mb']:.0f} MB |\n"
        f"| later starts (index built): `rag serve` until ready "
        f"| {figures['cold_ready_s']:.1f} s, {figures['cold_peak_mb']:.0f} MB resident |\n"
        f"| `POST /documents?wait=true`, a short document | {figures['add_s']:.2f} s |\n\n"
        f"Measured on {figures['machine']}; load average {figures['load_before']} before and "
        f"{figures['load_after']} after (other work was running when it is above the core count).\n"
    )
    return {
        "first-run": first_run,
        "ask-example": "```json\n" + json.dumps(ask, indent=2, ensure_ascii=False) + "\n```\n",
        "documents-example": "```json\n"
        + json.dumps(figures["documents"][:1], indent=2, ensure_ascii=False)
        + "\n```\n",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--print", action="store_true", help="Print the blocks instead of rewriting README.md.")
    args = parser.parse_args()
    generated = blocks(measure())
    if args.print:
        for name, body in generated.items():
            print(f"--- {name}\n{body}")
        return 0
    text = README.read_text(encoding="utf-8")
    for name, body in generated.items():
        text = replace_block(text, name, body)
    README.write_text(text, encoding="utf-8")
    print(f"README.md: {', '.join(generated)} regenerated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
