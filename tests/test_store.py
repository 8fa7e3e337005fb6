"""The index directory: round trip, staleness, damage detection, atomic swaps and pruning."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

from rag.config import Settings
from rag.documents.loading import load_documents, make_document
from rag.durable import sha256_file
from rag.embedding.base import Vectors
from rag.engine.service import QAService
from rag.errors import UnusableIndex
from rag.index import store as store_module
from rag.index.build import assemble, build_index, fingerprint_for, make_chunker, split_all
from rag.index.manifest import Fingerprint, Manifest
from rag.index.store import CURRENT, IndexStore
from tests.conftest import FakeEmbedder, tuned

FILES = [
    "documents.msgpack", "chunks.msgpack", "dense.faiss", "sentences.npy", "clauses.npy",
    "terms.msgpack", "sentence_terms.npy", "sentence_terms_ptr.npy",
    *(f"bm25/{name}" for name in ("data.csc.index.npy", "indices.csc.index.npy", "indptr.csc.index.npy",
                                  "vocab.index.json", "params.index.json")),
]  # fmt: skip


class OtherModel(FakeEmbedder):
    name = "another-model"


@pytest.fixture
def store(settings: Settings) -> IndexStore:
    return IndexStore(Path(settings.paths.index))


@pytest.fixture
def seeds(settings: Settings) -> Path:
    return Path(settings.paths.seeds)


def expected(settings: Settings, embedder: FakeEmbedder | None = None) -> Fingerprint:
    embedder = embedder or FakeEmbedder()
    docs, _ = load_documents(Path(settings.paths.seeds))
    return fingerprint_for(settings, embedder, docs)


def build(store: IndexStore, settings: Settings, embedder: FakeEmbedder | None = None) -> Manifest:
    docs, _ = load_documents(Path(settings.paths.seeds))
    return build_index(store, settings, embedder or FakeEmbedder(), docs).manifest


def live_dir(store: IndexStore) -> Path:
    folder = store.current_dir()
    assert folder is not None
    return folder


def test_round_trip(store: IndexStore, settings: Settings) -> None:
    embedder = FakeEmbedder()
    docs, _ = load_documents(Path(settings.paths.seeds))
    table = split_all(make_chunker(settings, embedder), docs)
    manifest = build(store, settings, embedder)
    data = store.load(expected(settings))

    assert data.manifest == manifest
    assert list(data.documents.values()) == docs
    assert (data.sentences, data.clauses, data.chunks) == (table.sentences, table.clauses, table.chunks)
    assert manifest.chunks == len(table.chunks) > 0 and manifest.sentences == len(table.sentences)
    assert set(manifest.files) == {*FILES, *()} and (live_dir(store) / "manifest.json").exists()
    np.testing.assert_array_equal(data.sentence_vectors, embedder.embed([s.text for s in table.sentences]))
    np.testing.assert_array_equal(data.clause_vectors, embedder.embed([c.text for c in table.clauses]))
    chunk_vectors = embedder.embed([c.text for c in table.chunks])
    scores, ids = data.vectors.search(chunk_vectors, 1)  # each chunk's own vector finds that chunk first
    assert [int(i) for i in ids[:, 0]] == [c.chunk_id for c in table.chunks]
    np.testing.assert_allclose(scores[:, 0], 1.0, rtol=1e-5)


def test_a_changed_seed_makes_the_index_stale_and_open_rebuilds(
    store: IndexStore, settings: Settings, seeds: Path
) -> None:
    first = QAService.open(settings, embedder=FakeEmbedder())
    assert first.rebuilt == "no index built yet in " + settings.paths.index + "/"
    assert QAService.open(settings, embedder=FakeEmbedder()).rebuilt is None  # current: loaded, not rebuilt

    seed = next(seeds.glob("*.txt"))
    seed.write_text(seed.read_text(encoding="utf-8") + "\nA late addition.\n", encoding="utf-8")
    (seeds / "extra.md").write_text("# Extra\nSomething new.\n", encoding="utf-8")
    with pytest.raises(UnusableIndex) as stale:
        store.load(expected(settings))
    assert str(stale.value).endswith(
        "is stale: documents changed (added extra; changed us-ukraine-russia-negotiations)"
    )
    reopened = QAService.open(settings, embedder=FakeEmbedder())
    assert reopened.rebuilt == str(stale.value)
    assert set(reopened.data.documents) == {"us-ukraine-russia-negotiations", "extra"}
    assert reopened.data.manifest.version != first.data.manifest.version

    (seeds / "extra.md").unlink()
    with pytest.raises(UnusableIndex, match=r"stale: documents changed \(removed extra\)$"):
        store.load(expected(settings))


def test_another_model_makes_the_index_stale(store: IndexStore, settings: Settings) -> None:
    QAService.open(settings, embedder=FakeEmbedder())
    with pytest.raises(UnusableIndex, match=r"stale: model changed \('fake-bag-of-words' -> 'another-model'\)$"):
        store.load(expected(settings, OtherModel()))
    reopened = QAService.open(settings, embedder=OtherModel())
    assert reopened.rebuilt is not None and "model changed" in reopened.rebuilt
    assert reopened.data.manifest.fingerprint.model == "another-model"


@pytest.mark.parametrize(
    ("section", "change", "reason"),
    [
        ("chunking", {"max_tokens": 64}, "max_tokens: {old} -> 64"),
        ("chunking", {"overlap_tokens": 5}, "overlap_tokens: {old} -> 5"),
        ("embedding", {"max_word_pieces": 100}, "max_word_pieces: {old} -> 100"),
    ],
)
def test_other_chunking_settings_make_the_index_stale(
    store: IndexStore, settings: Settings, section: str, change: dict[str, int], reason: str
) -> None:
    QAService.open(settings, embedder=FakeEmbedder())
    changed = tuned(settings, **{section: change})
    name = next(iter(change))
    old = getattr(getattr(settings, section), name)
    with pytest.raises(UnusableIndex) as stale:
        store.load(expected(changed))
    assert f"stale: chunking settings changed ({reason.format(old=old)})" in str(stale.value)
    reopened = QAService.open(changed, embedder=FakeEmbedder())
    assert reopened.rebuilt == str(stale.value)
    if name == "max_tokens":
        assert max(c.tokens for c in reopened.data.chunks) <= 64


def flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def delete(path: Path) -> None:
    path.unlink()


def append_garbage(path: Path) -> None:
    with path.open("ab") as handle:
        handle.write(b"\x00garbage")


DAMAGE: dict[str, Callable[[Path], None]] = {
    "flip": flip_a_byte,
    "truncate": truncate,
    "delete": delete,
    "append": append_garbage,
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
@pytest.mark.parametrize("name", FILES)
def test_a_damaged_file_is_detected_and_rebuilt(store: IndexStore, settings: Settings, name: str, damage: str) -> None:
    original = QAService.open(settings, embedder=FakeEmbedder())
    DAMAGE[damage](live_dir(store) / name)
    with pytest.raises(UnusableIndex, match=rf"index file .*{name} is missing or corrupted \(checksum mismatch\)"):
        store.load(expected(settings))
    repaired = QAService.open(settings, embedder=FakeEmbedder())
    assert repaired.rebuilt is not None and "checksum mismatch" in repaired.rebuilt
    assert repaired.data.manifest.version == original.data.manifest.version  # the same build, rebuilt
    assert repaired.data.chunks == original.data.chunks
    store.load(expected(settings))  # and it is intact now
    assert not list(Path(settings.paths.index).glob(".trash-*"))  # the damaged copy was cleaned away


@pytest.mark.parametrize(
    ("mangle", "reason"),
    [
        (lambda root, live: (live / "manifest.json").write_bytes(b"{not json"), "unreadable manifest in"),
        (lambda root, live: (live / "manifest.json").write_bytes(b'{"version": 3}'), "unreadable manifest in"),
        (lambda root, live: (live / "manifest.json").unlink(), "no index built yet in"),
        (lambda root, live: (root / CURRENT).write_text("../../etc"), "which is not a build of this index"),
        (lambda root, live: (root / CURRENT).write_bytes(b"\xff\xfe"), "unreadable"),
        (lambda root, live: (root / CURRENT).write_text("v-0000000000000000"), "no index built yet in"),
        (lambda root, live: (root / CURRENT).unlink(), "no index built yet in"),
        (lambda root, live: (root / CURRENT).write_text(""), "no index built yet in"),
    ],
    ids=["garbage", "wrong-shape", "no-manifest", "traversal", "not-utf8", "dangling", "no-pointer", "empty"],
)
def test_a_damaged_manifest_or_pointer_is_refused_and_rebuilt(
    store: IndexStore, settings: Settings, mangle: Callable[[Path, Path], None], reason: str
) -> None:
    QAService.open(settings, embedder=FakeEmbedder())
    mangle(Path(settings.paths.index), live_dir(store))
    with pytest.raises(UnusableIndex, match=reason):
        store.load(expected(settings))
    repaired = QAService.open(settings, embedder=FakeEmbedder())
    assert repaired.rebuilt is not None and reason in repaired.rebuilt
    store.load(expected(settings))


def test_current_is_swapped_atomically_after_the_build_is_complete(
    store: IndexStore, settings: Settings, seeds: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    QAService.open(settings, embedder=FakeEmbedder())
    root = Path(settings.paths.index)
    swaps: list[str] = []
    real_replace = os.replace
    real_write = store_module.write_synced

    def checked_write(path: Path, data: bytes) -> None:
        assert path != root / CURRENT, "CURRENT must never be written in place"
        real_write(path, data)

    def checked_replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        if Path(dst) == root / CURRENT:
            name = Path(src).read_text(encoding="utf-8")
            target = root / name
            # At the moment of the swap the new build is complete and intact.
            manifest = store.read_manifest(target)
            for file, checksum in manifest.files.items():
                assert sha256_file(target / file) == checksum
            assert store.current_dir() != target  # and readers still see the old one
            swaps.append(name)
        real_replace(src, dst)

    monkeypatch.setattr(store_module, "write_synced", checked_write)
    monkeypatch.setattr(store_module.os, "replace", checked_replace)
    (seeds / "more.txt").write_text("More text to change the version.\n", encoding="utf-8")
    service = QAService.open(settings, embedder=FakeEmbedder())
    assert swaps == [f"v-{service.data.manifest.version}"]
    assert not list(root.glob(f".{CURRENT}.*"))  # no temporary pointer left behind


def test_old_builds_are_pruned(store: IndexStore, settings: Settings, seeds: Path) -> None:
    root = Path(settings.paths.index)
    versions = []
    for n in range(4):
        (seeds / "counter.txt").write_text(f"Build number {n}.\n", encoding="utf-8")
        versions.append(build(store, settings).version)
        time.sleep(0.01)  # distinct modification times
    builds = sorted(p.name for p in root.glob("v-*"))
    assert builds == sorted(f"v-{v}" for v in versions[-2:])  # the live build and the one before it
    assert live_dir(store).name == f"v-{versions[-1]}"

    old_staging, fresh_staging = root / ".build-old", root / ".build-fresh"
    old_staging.mkdir()
    fresh_staging.mkdir()
    long_ago = time.time() - 2 * store_module.STALE_STAGING_S
    os.utime(old_staging, (long_ago, long_ago))
    build(store, settings)
    assert not old_staging.exists()  # abandoned by a crash long ago: removed
    assert fresh_staging.exists()  # maybe another process building right now: kept


def test_rebuilding_the_same_version_never_removes_the_live_build(
    store: IndexStore, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = QAService.open(settings, embedder=FakeEmbedder())
    live = live_dir(store)
    real_rmtree = store_module.shutil.rmtree

    def guarded_rmtree(path: str | os.PathLike[str], *args: object, **kwargs: object) -> None:
        assert Path(path) != live, "the live build was deleted while CURRENT named it"
        real_rmtree(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(store_module.shutil, "rmtree", guarded_rmtree)
    again = QAService.open(settings, embedder=FakeEmbedder(), force_rebuild=True)
    assert again.rebuilt == "rebuild requested"
    assert again.data.manifest.version == first.data.manifest.version
    assert live_dir(store) == live
    assert not list(Path(settings.paths.index).glob(".build-*"))  # the redundant staging copy is gone


def test_bm25_and_term_sets_are_loaded_not_recomputed(
    store: IndexStore, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rag.index import lexical
    from rag.index.lexical import LexicalIndex
    from rag.text.normalize import content_terms

    build(store, settings, FakeEmbedder())
    fresh = store.load(expected(settings))
    computed = LexicalIndex([c.text for c in fresh.chunks])

    def no_tokenising(text: str) -> list[str]:
        raise AssertionError("opening an index tokenised a text")

    fingerprint = expected(settings)
    monkeypatch.setattr(lexical, "content_terms", no_tokenising)
    data = store.load(fingerprint)
    assert data.lexical is not None and data.saved_terms is not None
    sentence_terms = [data.sentence_terms.terms(i) for i in range(len(data.sentences))]
    monkeypatch.undo()  # the checks below may tokenise
    assert sentence_terms == [frozenset(content_terms(s.text)) for s in data.sentences]
    for question in ["What does Moscow insist Ukraine must do?", "ceasefire guarantees", "zebra"]:
        np.testing.assert_allclose(data.lexical.scores(question), computed.scores(question), rtol=1e-6)  # type: ignore[union-attr]
    for term in {t for terms in sentence_terms for t in terms} | {"zebra"}:
        assert data.lexical.idf(term) == computed.idf(term) and data.lexical.known(term) == computed.known(term)  # type: ignore[union-attr]


def test_an_index_made_in_memory_computes_its_terms(store: IndexStore, settings: Settings) -> None:
    import dataclasses

    from rag.text.normalize import content_terms

    build(store, settings, FakeEmbedder())
    data = dataclasses.replace(store.load(expected(settings)), lexical=None, saved_terms=None)
    assert data.sentence_terms.terms(3) == frozenset(content_terms(data.sentences[3].text))


def test_the_embedding_model_reads_overstruck_text_as_printed(settings: Settings) -> None:
    """nroff's bold ("B\\bB") stays in the document, so quotes stay exact, but the model is given
    the words a reader sees."""
    seen: list[str] = []

    class Recording(FakeEmbedder):
        def embed(self, texts: Sequence[str]) -> Vectors:
            seen.extend(texts)
            return super().embed(texts)

    text = "I\bIn\bns\bst\bta\bal\bll\bli\bin\bng\bg\n\nRun the _\bi_\bn_\bs_\bt_\ba_\bl_\bl command first.\n"
    build = assemble(settings, Recording(), [make_document("readme", text, "README")])
    assert seen and not any("\b" in t for t in seen)
    assert "Run the install command first." in seen
    assert any("\b" in s.text for s in build.content.table.sentences)
