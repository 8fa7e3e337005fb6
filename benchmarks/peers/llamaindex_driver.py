"""The LlamaIndex side of benchmarks/llamaindex.py, run by the peer's own virtualenv's python.

    .venv-llamaindex/bin/python llamaindex_driver.py --model DIR --documents FILE.json

Builds a ``VectorStoreIndex`` with LlamaIndex's defaults (its default node parser, the
SentenceSplitter) over the documents given (a JSON list of ``{"doc_id", "text"}``), embedding
with ``HuggingFaceEmbedding`` loaded from a local folder (no hub access: the caller sets
HF_HUB_OFFLINE=1), and prints one JSON line ``{"event": "built", ...}``. Then, for every JSON
line ``{"question": ..., "threads": n}`` on stdin, it times
``index.as_retriever(similarity_top_k=5).retrieve(question)`` on ``n`` torch threads and
prints ``{"ms": ..., "nodes": ...}``. Timing happens here, so the pipe is not counted.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True, help="folder of all-MiniLM-L6-v2 (sentence-transformers layout)")
    parser.add_argument("--documents", required=True)
    parser.add_argument("--threads", type=int, default=2, help="torch threads for the build")
    parser.add_argument("--top-k", type=int, default=5)
    args = parser.parse_args()
    out, sys.stdout = sys.stdout, sys.stderr  # stdout carries only our JSON lines, whatever the libraries print
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

    import torch
    from llama_index.core import Document, Settings, VectorStoreIndex
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    Settings.embed_model = HuggingFaceEmbedding(model_name=args.model, device="cpu")
    Settings.llm = None  # retrieval only: no LLM is ever called
    model_s = time.perf_counter() - started
    with open(args.documents, encoding="utf-8") as handle:
        documents = [Document(text=d["text"], doc_id=d["doc_id"]) for d in json.load(handle)]
    started = time.perf_counter()
    index = VectorStoreIndex.from_documents(documents)
    build_s = time.perf_counter() - started
    retriever = index.as_retriever(similarity_top_k=args.top_k)
    splitter = Settings.node_parser
    print(json.dumps({
        "event": "built", "build_s": build_s, "model_s": model_s, "nodes": len(index.docstore.docs),
        "splitter": f"{type(splitter).__name__}(chunk_size={getattr(splitter, 'chunk_size', '?')}, "
                    f"chunk_overlap={getattr(splitter, 'chunk_overlap', '?')})",
        "threads": args.threads, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6,  # KiB
    }), file=out, flush=True)

    threads = args.threads
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        if request.get("threads", threads) != threads:
            threads = request["threads"]
            torch.set_num_threads(threads)
        started = time.perf_counter()
        nodes = retriever.retrieve(request["question"])
        ms = (time.perf_counter() - started) * 1000
        print(json.dumps({"ms": ms, "nodes": len(nodes)}), file=out, flush=True)


if __name__ == "__main__":
    main()
