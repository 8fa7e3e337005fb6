"""The int8 embedding model against fp32: forward-pass time, vector drift, and every gold set.

    python benchmarks/int8.py [--repeat 3] [--sets dev own corpus]

- Forward pass: the bare ONNX Runtime session on one question's word pieces (no tokenising or
  pooling), then ``embed([question])`` as the service calls it, on 1 and 2 intra-op threads,
  interleaved question by question so both models see the same machine load.
- Drift: the cosine between the two models' vectors of every gold question (dev, own, corpus)
  and every sentence of seeds/ and eval/corpus/docs.
- Gold sets: each backend builds its own index of the set's documents (build time measured)
  and answers every question (``rag.eval.metrics.evaluate``): retrieval hit@1/3/5 and MRR@10,
  answer exact match and F1, abstention. ``dev`` and ``own`` are over seeds/, ``corpus`` is
  every file of eval/corpus/gold over eval/corpus/docs (copied to a scratch folder with a .txt
  suffix where the loader does not read theirs, .rst: the text and every offset are unchanged).
  The acceptance rule for making int8 the default: hit@1, hit@3 and MRR@10 within 0.01 of
  fp32's (or better) on every set; hit@5 and the answer figures are reported beside them.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

SETS = {
    "dev": (["eval/dev.jsonl"], "seeds"),
    "own": (["eval/own.jsonl"], "seeds"),
    "corpus": (sorted(str(p.relative_to(common.ROOT)) for p in (common.ROOT / "eval/corpus/gold").glob("*.jsonl")),
               "eval/corpus/docs"),
}
RETRIEVAL = ("hit@1", "hit@3", "hit@5", "mrr@10")
ACCEPTANCE = ("hit@1", "hit@3", "mrr@10")
ANSWERS = ("exact_match", "token_f1", "abstained_unanswerable", "abstained_answerable")


def sentences(folder: Path) -> list[str]:
    from rag.text.segment import sentence_spans

    out = []
    for path in sorted(folder.iterdir()):
        if path.suffix in {".txt", ".md"}:
            text = path.read_text(encoding="utf-8")
            out += [text[a:b] for a, b in sentence_spans(text) if text[a:b].strip()]
    return out


def readable_copy(docs: Path, target: Path) -> Path:
    """``docs`` with every file the document loader skips (.rst) renamed to .txt."""
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for path in docs.iterdir():
        suffix = path.suffix if path.suffix in {".txt", ".md"} else ".txt"
        shutil.copyfile(path, target / (path.stem + suffix))
    return target


def gold_set(name: str, corpus_copy: Path) -> tuple[str, list[Any]]:
    """A set's seeds folder (the corpus read from a readable copy made at ``corpus_copy``) and its
    gold items."""
    from rag.eval.metrics import load_gold

    paths, seeds = SETS[name]
    if name == "corpus":
        seeds = str(readable_copy(common.ROOT / seeds, corpus_copy))
    return seeds, [item for path in paths for item in load_gold(Path(path))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    args = parser.parse_args()
    os.chdir(common.ROOT)
    work = common.work_dir()
    os.environ.update(common.base_env())

    import numpy as np

    from rag.config import load_settings
    from rag.embedding.models import onnx_embedder
    from rag.engine.service import QAService
    from rag.eval.metrics import evaluate, load_gold

    common.print_header("int8 embedding model against fp32")
    cache = work / "int8-models"
    backends = {"fp32": "onnx", "int8": "onnx-int8"}
    embedders = {(label, t): onnx_embedder("all-MiniLM-L6-v2", b, 32, cache, threads=t, lone_threads=t)
                 for label, b in backends.items() for t in (1, 2)}
    gold = {name: [item for path in paths for item in load_gold(Path(path))] for name, (paths, _) in SETS.items()}
    questions = [item.question for items in gold.values() for item in items]

    # -- forward pass ------------------------------------------------------------------------
    rows: list[list[object]] = []
    results: dict[str, Any] = {"speed": {}, "drift": {}, "sets": {}}
    for threads in (1, 2):
        pair = {label: embedders[(label, threads)] for label in backends}
        bare: dict[str, list[float]] = {label: [] for label in pair}
        full: dict[str, list[float]] = {label: [] for label in pair}
        feeds = []
        for q in questions:
            ids = np.array([pair["fp32"]._tokenizer.encode(q).ids], dtype=np.int64)
            feeds.append({"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)})
        for e in pair.values():
            for f, q in zip(feeds[:5], questions[:5], strict=True):
                e.session.run(None, f)
                e.embed([q])
        for _ in range(args.repeat):
            for f, q in zip(feeds, questions, strict=True):
                for label, e in pair.items():  # interleaved: both models see the same load
                    started = time.perf_counter()
                    e.session.run(None, f)
                    bare[label].append(time.perf_counter() - started)
                    started = time.perf_counter()
                    e.embed([q])
                    full[label].append(time.perf_counter() - started)
        for label in pair:
            b, f = common.summarise_ms(bare[label]), common.summarise_ms(full[label])
            results["speed"][f"{label}/{threads}"] = {"bare": b, "embed": f}
            rows.append([label, threads, b["median_ms"], b["p95_ms"], f["median_ms"], f["p95_ms"]])
        ratio = (common.summarise_ms(bare["fp32"])["median_ms"] / common.summarise_ms(bare["int8"])["median_ms"])
        results["speed"][f"speedup/{threads}"] = ratio
    print(common.table(["model", "threads", "bare forward median ms", "p95 ms", "embed() median ms", "p95 ms"], rows))
    print(f"\n{len(questions)} gold questions x {args.repeat}, the two models interleaved question by question. "
          f"int8 speed-up of the bare forward pass: {results['speed']['speedup/1']:.2f}x on 1 thread, "
          f"{results['speed']['speedup/2']:.2f}x on 2.\n")

    # -- drift -----------------------------------------------------------------------------
    texts = {"gold questions": questions, "seed sentences": sentences(common.ROOT / "seeds"),
             "eval/corpus sentences": sentences(readable_copy(common.ROOT / "eval/corpus/docs",
                                                              work / "int8-corpus-docs"))}
    rows = []
    for label, batch in texts.items():
        cos = np.sum(embedders[("fp32", 2)].embed(batch) * embedders[("int8", 2)].embed(batch), axis=1)
        results["drift"][label] = {"n": len(batch), "mean": float(cos.mean()), "min": float(cos.min()),
                                   "p01": float(np.percentile(cos, 1))}
        rows.append([label, len(batch), float(cos.mean()), float(np.percentile(cos, 1)), float(cos.min())])
    print(common.table(["texts", "n", "cosine int8 vs fp32: mean", "1st percentile", "min"], rows))
    print()

    # -- gold sets -------------------------------------------------------------------------
    rows = []
    verdict = True
    for name in args.sets:
        seeds, _ = gold_set(name, work / "int8-corpus-docs")
        figures: dict[str, dict[str, float]] = {}
        for label in backends:
            index = work / f"int8-index-{name}-{label}"
            shutil.rmtree(index, ignore_errors=True)
            env = {**os.environ, "RAG_PATHS__SEEDS": seeds, "RAG_PATHS__INDEX": str(index)}
            settings = load_settings(environ=env)
            started = time.perf_counter()
            service = QAService.open(settings, embedder=embedders[(label, 2)])
            build = time.perf_counter() - started
            summary = evaluate(service, gold[name]).summary
            figures[label] = {**summary["answerable"], **{k: summary["all"][k] for k in ANSWERS[2:]},
                              "build_s": build, "chunks": float(len(service.data.chunks))}
            rows.append([name, label, len(gold[name]), build,
                         *(figures[label][k] for k in RETRIEVAL + ANSWERS)])
        delta = {k: figures["int8"][k] - figures["fp32"][k] for k in RETRIEVAL + ANSWERS}
        rows.append([name, "int8 - fp32", "", "", *(delta[k] for k in RETRIEVAL + ANSWERS)])
        within = all(delta[k] >= -0.01 for k in ACCEPTANCE)
        verdict = verdict and within
        results["sets"][name] = {"figures": figures, "delta": delta, "retrieval_within_0.01": within}
    print(common.table(["set", "model", "questions", "index build s", *RETRIEVAL, *ANSWERS], rows))
    print(f"\nRetrieval figures over answerable questions, abstention over all; hit/MRR count a passage that holds "
          f"half a gold span. int8 hit@1, hit@3 and MRR@10 within 0.01 of fp32 (or better) on every set: "
          f"{'yes' if verdict else 'NO'}.")
    results["verdict"] = verdict
    common.save_result("int8", results)


if __name__ == "__main__":
    main()
