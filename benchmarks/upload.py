"""One large upload through the engine's owner: wall time and peak memory (issue 12, item 4).

    python benchmarks/upload.py [--sizes 100000,1000000] [--backend onnx-int8]

Each size runs in a fresh process: a temporary index of the shipped seed article is built
with the real model, then ``LiveEngine.upload`` adds one document of that many bytes, made of
the evaluation corpus's text repeated with a running number (so no two chunks are the same and
nothing is deduplicated away). The child reports the upload's wall time and its peak resident
set (``ru_maxrss``) before and after the upload; the difference is what the upload costs.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common


def document_text(size: int) -> str:
    corpus = "".join(p.read_text(encoding="utf-8") for p in sorted((common.ROOT / "eval/corpus/docs").iterdir()))
    paragraphs = [p.strip() for p in corpus.split("\n\n") if len(p.strip()) > 80]
    out: list[str] = []
    total, n = 0, 0
    while total < size:
        paragraph = f"Part {n}. {paragraphs[n % len(paragraphs)]}\n\n"
        out.append(paragraph)
        total += len(paragraph.encode("utf-8"))
        n += 1
    return "".join(out).encode("utf-8")[:size].decode("utf-8", errors="ignore")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def child(size: int, backend: str) -> None:
    from rag.config import load_settings
    from rag.engine.live import LiveEngine
    from rag.engine.service import QAService
    from rag.index.build import Progress

    folder = Path(tempfile.mkdtemp(prefix="rag-upload-bench-"))
    try:
        seeds, index = folder / "seeds", folder / "index"
        shutil.copytree(common.ROOT / "seeds", seeds)
        shutil.copytree(common.ROOT / "index" / "onnx", index / "onnx")
        environ = {**os.environ, "RAG_PATHS__SEEDS": str(seeds), "RAG_PATHS__INDEX": str(index),
                   "RAG_EMBEDDING__BACKEND": backend}  # fmt: skip
        settings = load_settings(environ=environ)
        live = LiveEngine.serving(QAService.open(settings))
        text = document_text(size)
        before = peak_mb()
        batches = [0]

        def count(stage: str, done: int, total: int) -> None:
            batches[0] += stage == "embedding"

        progress: Progress = count
        started = time.perf_counter()
        result = live.upload(text, doc_id="large", progress=progress)
        elapsed = time.perf_counter() - started
        print(json.dumps({
            "bytes": len(text.encode("utf-8")), "seconds": round(elapsed, 2), "chunks": result.chunks_embedded,
            "embedding_batches": batches[0], "peak_rss_before_mb": round(before), "peak_rss_after_mb": round(peak_mb()),
        }))  # fmt: skip
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--backend", default="onnx-int8")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.backend)
        return
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        command = [common.PYTHON, __file__, "--child", str(size), "--backend", args.backend]
        output = subprocess.run(command, check=True, capture_output=True, text=True, cwd=common.ROOT).stdout
        rows.append(json.loads(output.strip().splitlines()[-1]))
    print(f"load average: {common.load_average()}")
    print(common.table(
        ["bytes", "seconds", "chunks embedded", "embedding batches", "peak RSS before (MB)", "peak RSS after (MB)"],
        [[r["bytes"], r["seconds"], r["chunks"], r["embedding_batches"], r["peak_rss_before_mb"],
          r["peak_rss_after_mb"]] for r in rows],
    ))  # fmt: skip
    common.save_result("upload", {"backend": args.backend, "rows": rows, "machine": common.machine()})


if __name__ == "__main__":
    main()
