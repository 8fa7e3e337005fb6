"""The whole service at corpus scale: build, index size, open time, RSS and ``ask`` at 10k-1M chunks.

    python benchmarks/corpus_scale.py [--sizes 10000 100000 1000000] [--base-chunks 10000]

What is real and what is synthetic:

- Texts: synthetic documents with the statistics of eval/corpus (+ seeds/): each takes the
  length of a random real document and is filled with paragraphs (blank-line blocks) drawn at
  random from the real ones, so sentence, block and document lengths and the vocabulary are
  the real corpus's; no block is new text.
- The base (``--base-chunks``, the 10k row) is built by the project's build path,
  ``rag.index.build.assemble`` (chunking, segmentation, linguistic analysis), with the real
  default embedder (onnx-int8): every chunk, sentence and clause vector is really embedded.
  It is kept in ``$RAG_BENCH_DIR/corpus-scale/base-<n>`` and reused by later runs with the
  chunking and embedding times of the run that made it (delete the folder to remake it).
- 100k and 1M are the base tiled: replica r of every document, sentence, clause, chunk and
  answer candidate is a copy with new ids (documents ``r<r>-<doc_id>``) whose vectors are the
  base's plus Gaussian noise (cosine ~0.95), renormalised. Their chunking and embedding time is
  the base's scaled linearly (labelled so).
- Every size is written by ``IndexStore.save`` (FAISS, BM25, term sets, checksums: measured),
  then opened in a fresh process by ``IndexStore.load`` and ``QAService`` with the default
  embedder and the question cache off, which asks every gold question of eval/corpus/gold
  (embedding, hybrid retrieval, reader, citations) one at a time.

Build and open each run in their own process (``--child``), so the RSS figures are theirs
alone (the build's peak includes making the base only in the run that made it). A size
whose memory, projected linearly from the largest size measured, exceeds the memory
available now is not started, and the report says so with the numbers.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

NOISE = 0.33  # per-vector Gaussian noise norm relative to the unit vector: cosine ~1/sqrt(1+0.33^2) = 0.95
CORPUS_GOLD = common.ROOT / "eval" / "corpus" / "gold"


def work_dir() -> Path:
    return common.work_dir() / "corpus-scale"


def settings_for(index: Path) -> Any:
    from rag.config import load_settings

    env = {**os.environ, "RAG_PATHS__INDEX": str(index), "RAG_PATHS__SEEDS": str(work_dir() / "no-seeds"),
           **common.NO_CACHE}
    return load_settings(environ=env)


def default_embedder(settings: Any) -> Any:
    from rag.embedding.registry import create_embedder

    e = settings.embedding
    return create_embedder(e.model, e.backend, e.batch_size, str(work_dir() / "models"),
                           threads=e.threads, lone_threads=e.lone_threads)


def synthetic_documents(chars: int, seed: int = 0) -> list[Any]:
    """Documents of about ``chars`` characters in all, made of the real corpus's paragraphs."""
    from rag.documents.loading import make_document

    folders = [common.ROOT / "eval" / "corpus" / "docs", common.ROOT / "seeds"]
    texts = [p.read_text(encoding="utf-8") for f in folders for p in sorted(f.iterdir())
             if p.suffix in {".txt", ".md", ".rst"}]
    blocks = [b for t in texts for b in t.split("\n\n") if b.strip()]
    rng, documents, total = random.Random(seed), [], 0
    while total < chars:
        target, parts, length = len(rng.choice(texts)), [], 0
        while length < target:
            parts.append(rng.choice(blocks))
            length += len(parts[-1]) + 2
        doc_id = f"s{len(documents):05d}"
        documents.append(make_document(doc_id, "\n\n".join(parts) + "\n", f"{doc_id}.txt"))
        total += length
    return documents


def base_content(chunks: int) -> tuple[Any, Any, dict[str, float]]:
    """The base build's content (really chunked and embedded), cached on disk between runs."""
    import msgspec
    import numpy as np

    from rag.index.build import assemble, make_chunker
    from rag.index.content import ChunkTable, IndexContent
    from rag.records import Document

    folder = work_dir() / f"base-{chunks}"
    settings = settings_for(work_dir() / "unused-index")
    embedder = default_embedder(settings)
    if not (folder / "times.json").exists():
        chunker = make_chunker(settings, embedder)
        pilot = synthetic_documents(200_000, seed=1)  # characters per chunk of this corpus
        per_chunk = sum(len(d.text) for d in pilot) / sum(len(chunker.split(d, 0, 0)[1]) for d in pilot)
        documents = synthetic_documents(int(chunks * per_chunk))
        marks: dict[str, float] = {"start": time.perf_counter()}

        def progress(stage: str, done: int, total: int) -> None:
            if stage == "chunking" and done == total:
                marks["chunked"] = time.perf_counter()

        content = assemble(settings, embedder, documents, progress=progress).content
        times = {"chunk_s": marks["chunked"] - marks["start"], "embed_s": time.perf_counter() - marks["chunked"]}
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "content.msgpack").write_bytes(msgspec.msgpack.encode([content.documents, content.table]))
        for name in ("chunk_vectors", "sentence_vectors", "clause_vectors"):
            np.save(folder / f"{name}.npy", getattr(content, name))
        (folder / "times.json").write_text(json.dumps(times))
    documents, table = msgspec.msgpack.decode((folder / "content.msgpack").read_bytes(),
                                              type=tuple[list[Document], ChunkTable])
    vectors = [np.load(folder / f"{name}.npy") for name in ("chunk_vectors", "sentence_vectors", "clause_vectors")]
    times = json.loads((folder / "times.json").read_text())
    made = time.gmtime((folder / "times.json").stat().st_mtime)
    times["built_at"] = time.strftime("%Y-%m-%d %H:%M UTC", made)  # reused by later runs: say when it was timed
    return IndexContent(documents, table, *vectors), embedder, times


def tiled(base: Any, factor: int, seed: int = 0) -> Any:
    """``factor`` copies of the base content with new ids; copies after the first get noisy vectors."""
    import msgspec
    import numpy as np

    from rag.index.content import ChunkTable, IndexContent

    replace = msgspec.structs.replace
    t = base.table
    n_sent, n_clause, n_chunk = len(t.sentences), len(t.clauses), len(t.chunks)
    documents, sentences, clauses, chunks, candidates = [], [], [], [], []
    for r in range(factor):
        doc = {d.doc_id: f"r{r}-{d.doc_id}" for d in base.documents}
        so, co, ko = r * n_sent, r * n_clause, r * n_chunk
        documents += [replace(d, doc_id=doc[d.doc_id], path=f"{doc[d.doc_id]}.txt") for d in base.documents]
        sentences += [replace(s, sentence_id=s.sentence_id + so, doc_id=doc[s.doc_id],
                              context=s.context + so if s.context >= 0 else -1) for s in t.sentences]
        clauses += [replace(c, clause_id=c.clause_id + co, sentence_id=c.sentence_id + so, doc_id=doc[c.doc_id])
                    for c in t.clauses]
        chunks += [replace(c, chunk_id=c.chunk_id + ko, doc_id=doc[c.doc_id],
                           sentence_ids=tuple(i + so for i in c.sentence_ids)) for c in t.chunks]
        candidates += [replace(c, sentence_id=c.sentence_id + so) for c in t.candidates]
    rng = np.random.default_rng(seed)

    def noisy(vectors: Any) -> Any:
        out = np.empty((factor * len(vectors), vectors.shape[1]), dtype=np.float32)
        for r in range(factor):
            block = out[r * len(vectors) : (r + 1) * len(vectors)]
            block[:] = vectors
            if r:
                block += rng.standard_normal(vectors.shape, dtype=np.float32) * (NOISE / np.sqrt(vectors.shape[1]))
                block /= np.linalg.norm(block, axis=1, keepdims=True)
        return out

    table = ChunkTable(sentences=sentences, clauses=clauses, chunks=chunks, candidates=candidates)
    return IndexContent(documents, table, noisy(base.chunk_vectors), noisy(base.sentence_vectors),
                        noisy(base.clause_vectors))


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MB (10^6 bytes, as common.rss_mb; ru_maxrss is in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6


def child_build(size: int, base_chunks: int) -> dict[str, Any]:
    import shutil

    from rag.index.build import fingerprint_for
    from rag.index.store import IndexStore

    base, embedder, times = base_content(base_chunks)
    factor = max(1, round(size / len(base.table.chunks)))
    content = base if factor == 1 else tiled(base, factor)
    index = work_dir() / f"index-{size}"
    shutil.rmtree(index, ignore_errors=True)
    settings = settings_for(index)
    started = time.perf_counter()
    data = IndexStore(index).save(fingerprint_for(settings, embedder, content.documents), content, settings.index)
    save = time.perf_counter() - started
    folder = IndexStore(index).current_dir()
    assert folder is not None
    return {"size": size, "factor": factor, "chunks": len(data.chunks), "sentences": len(data.sentences),
            "clauses": len(data.clauses), "documents": len(data.documents), "index_kind": data.manifest.index_kind,
            "base_built_at": times["built_at"],
            "chunk_s": times["chunk_s"] * factor, "embed_s": times["embed_s"] * factor, "save_s": save,
            "disk_mb": sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6,
            "build_peak_rss_mb": peak_rss_mb()}


def child_open(size: int) -> dict[str, Any]:
    from rag.engine.service import QAService
    from rag.index.store import IndexStore

    settings = settings_for(work_dir() / f"index-{size}")
    embedder = default_embedder(settings)
    embedder.embed(["warm the model up"])
    store = IndexStore(Path(settings.paths.index))
    expected = store.read_manifest().fingerprint
    before = common.rss_mb()
    started = time.perf_counter()
    data = store.load(expected, settings.index.hnsw_ef_search)
    loaded = time.perf_counter()
    service = QAService(settings, embedder, data)
    opened = time.perf_counter()
    after_open = common.rss_mb()
    questions = [q for path in sorted(CORPUS_GOLD.glob("*.jsonl")) for q, _ in common.gold_questions(path)]
    for q in questions[:3]:
        service.ask(q)
    samples, parts = [], {"embed": [], "retrieve": [], "answer": []}
    for q in questions:
        started_q = time.perf_counter()
        answer = service.ask(q)
        samples.append(time.perf_counter() - started_q)
        for part, values in parts.items():
            values.append(answer.timings_ms[part] / 1000)
    return {"size": size, "load_s": loaded - started, "service_s": opened - loaded, "open_s": opened - started,
            "rss_before_mb": before, "rss_open_mb": after_open, "rss_end_mb": common.rss_mb(),
            "open_peak_rss_mb": peak_rss_mb(), "questions": len(questions), "ask": common.summarise_ms(samples),
            **{part: common.summarise_ms(values) for part, values in parts.items()}}


def run_child(kind: str, size: int, base_chunks: int) -> dict[str, Any]:
    command = [common.PYTHON, __file__, "--child", kind, "--sizes", str(size), "--base-chunks", str(base_chunks)]
    done = subprocess.run(command, cwd=common.ROOT, env=common.base_env(), capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{kind} {size} exited with {done.returncode}: {done.stderr[-1500:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--base-chunks", type=int, default=10_000)
    parser.add_argument("--child", choices=["build", "open"])
    args = parser.parse_args()
    os.chdir(common.ROOT)
    os.environ.update(common.base_env())
    if args.child:
        result = (child_build(args.sizes[0], args.base_chunks) if args.child == "build" else child_open(args.sizes[0]))
        print(json.dumps(result))
        return

    import psutil

    common.print_header("The service at corpus scale: build, open, RSS, ask (synthetic corpus, see below)")
    rows: list[list[object]] = []
    results: dict[str, Any] = {}
    stopped: list[str] = []
    largest: dict[str, Any] | None = None
    for size in args.sizes:
        if largest is not None:
            scale = size / largest["chunks"]  # what grows with the index, above the interpreter and model
            fixed = largest["rss_before_mb"]
            need = fixed + (max(largest["build_peak_rss_mb"], largest["open_peak_rss_mb"]) - fixed) * scale
            free = float(psutil.virtual_memory().available) / 1e6
            if need > 0.9 * free:
                stopped.append(f"{size:,} chunks not started: memory projected from {largest['chunks']:,} chunks "
                               f"(build peak {largest['build_peak_rss_mb']:,.0f} MB, open peak "
                               f"{largest['open_peak_rss_mb']:,.0f} MB, index on disk {largest['disk_mb']:,.0f} MB) "
                               f"above the {fixed:,.0f} MB of interpreter and model, x{scale:.1f}: {need:,.0f} MB, "
                               f"more than the {free:,.0f} MB available now")
                print("  " + stopped[-1], file=sys.stderr, flush=True)
                continue
        try:
            f = run_child("build", size, args.base_chunks)
            f.update(run_child("open", size, args.base_chunks))
        except RuntimeError as error:
            stopped.append(str(error))
            print("  " + stopped[-1], file=sys.stderr, flush=True)
            continue
        results[str(size)] = largest = f
        built = "real" if f["factor"] == 1 else f"x{f['factor']} tiled"
        rows.append([f"{f['chunks']:,}", f"{f['sentences']:,} / {f['clauses']:,}", built, f["index_kind"],
                     f["chunk_s"] + f["embed_s"], f["save_s"], f["disk_mb"], f["build_peak_rss_mb"],
                     f["load_s"], f["open_s"], f["rss_open_mb"] - f["rss_before_mb"], f["rss_open_mb"],
                     f["ask"]["median_ms"], f["ask"]["p95_ms"], f["retrieve"]["median_ms"], f["answer"]["median_ms"]])
        print("  " + " | ".join(str(v) for v in rows[-1]), file=sys.stderr, flush=True)
    print(common.table(
        ["chunks", "sentences / clauses", "texts", "chunk index", "chunk + embed s", "save s", "index on disk MB",
         "build peak RSS MB", "IndexStore.load s", "open (load + QAService) s", "RSS added by open MB",
         "RSS after open MB", "ask p50 ms", "ask p95 ms", "of it: retrieve p50 ms", "answer p50 ms"], rows))
    base = results.get(str(args.sizes[0]), {})
    b = {"chunk_s": float("nan"), "embed_s": float("nan"), "rss_before_mb": float("nan"), **base}
    print(f"\nTexts: synthetic documents of eval/corpus paragraphs (see the docstring). \"real\": chunked, "
          f"analysed and embedded (onnx-int8) by `assemble`; \"tiled\": that base copied with new ids and noisy "
          f"vectors (cosine ~0.95). Both saved by `IndexStore.save`. Chunk + embed of the tiled sizes is the base's "
          f"({b['chunk_s']:.0f} s chunking + {b['embed_s']:.0f} s embedding, timed {b.get('base_built_at', '?')}) "
          f"scaled linearly, not measured. Open and ask: a fresh process per size, {b.get('questions', 0)} "
          f"eval/corpus gold questions one at a time, question cache off, default settings (onnx-int8); RSS before "
          f"the open (interpreter and model) {b['rss_before_mb']:,.0f} MB.")
    for line in stopped:
        print(f"\n**Not measured:** {line}.")
    common.save_result("corpus_scale", {"results": results, "stopped": stopped})


if __name__ == "__main__":
    main()
