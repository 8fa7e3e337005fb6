"""Cold start: from ``rag serve`` to the first successful answer, and ``rag ask`` from a shell.

    python benchmarks/cold_start.py [--repeat 3]

For each backend, with the index already built (and the ONNX export already in the index
folder): the wall time from launching ``python -m rag.cli.main serve`` until a POST /ask first
answers 200, and the wall time of ``rag ask "..."`` as a subprocess. Also the one-off costs
in a fresh index folder: ``rag index`` (chunking, embedding, and for ``onnx`` the export).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

QUESTION = "What does Moscow insist Ukraine must do?"
RAG = [common.PYTHON, "-m", "rag.cli"]


def first_answer_s(env: dict[str, str], log: Path) -> float:
    import httpx

    server = common.Server(env, log_path=log)
    with server, httpx.Client(timeout=5.0) as client:
        assert server.proc is not None
        while True:
            if server.proc.poll() is not None:
                raise RuntimeError(f"server exited; see {log}")
            if time.perf_counter() - server.started_at > 300:
                raise TimeoutError(f"no answer after 300 s; see {log}")
            try:
                response = client.post(server.url + "/ask", json={"question": QUESTION})
                if response.status_code == 200:
                    return time.perf_counter() - server.started_at
            except httpx.HTTPError:
                pass
            time.sleep(0.02)


def timed_run(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=common.ROOT, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--backends", nargs="+", default=["torch", "onnx", "onnx-int8"])
    args = parser.parse_args()
    work = common.work_dir()
    common.print_header("Cold start")
    rows: list[list[object]] = []
    results: dict[str, dict[str, float]] = {}
    for backend in args.backends:
        index_dir = work / f"index-cold-{backend}"
        shutil.rmtree(index_dir, ignore_errors=True)
        env = common.base_env(index_dir, RAG_EMBEDDING__BACKEND=backend, RAG_RATE_LIMIT__ENABLED="false")
        env["RAG_CONFIG"] = str(common.ROOT / "config" / "rag.toml")
        first_index = timed_run([*RAG, "index"], env)
        serve = [first_answer_s(env, work / f"cold-{backend}-{i}.log") for i in range(args.repeat)]
        ask = [timed_run([*RAG, "ask", QUESTION], env) for _ in range(args.repeat)]
        results[backend] = {
            "first_index_s": first_index,
            "serve_to_first_answer_s": statistics.median(serve),
            "serve_to_first_answer_max_s": max(serve),
            "rag_ask_s": statistics.median(ask),
        }
        rows.append([backend, first_index, statistics.median(serve), max(serve), statistics.median(ask)])
    imports = timed_run([common.PYTHON, "-c", "import rag.cli.main, rag.http.app"], common.base_env())
    print(common.table(
        ["backend", "first `rag index` s (fresh folder)", "serve -> first answer s (median)", "(max)",
         "`rag ask` s (median)"],
        rows,
    ))
    print(f"\n`rag serve` runs with the index already built; {args.repeat} runs each. "
          f"Python start-up plus importing rag's CLI, API and service: {imports:.2f} s.")
    common.save_result("cold_start", {"results": results, "import_s": imports})


if __name__ == "__main__":
    main()
