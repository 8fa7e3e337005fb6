"""Ingestion: bad seed files are skipped with a reason naming the file; good ones index; raw text is kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.config import Settings
from rag.documents import loading as documents
from rag.documents.loading import doc_id_for, load_documents
from rag.engine.service import QAService
from rag.errors import DocumentError
from tests.conftest import FakeEmbedder

CRLF_TEXT = "Treaty Notes\r\n\r\nThe envoy said Ukraine must cede territory.\r\nThe talks resume in May.\r\n"


def write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


@pytest.fixture
def seeds(settings: Settings) -> Path:
    return Path(settings.paths.seeds)


def test_bad_files_are_skipped_with_a_reason_naming_the_file(
    seeds: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(documents, "MAX_BYTES", 50_000)
    write(seeds, "empty.txt", b"")
    write(seeds, "blank.md", b"  \r\n\t\n")
    write(seeds, "binary.txt", b"PK\x03\x04\x00\x00 looks like a zip")
    write(seeds, "latin1.txt", "Caf\u00e9 au lait".encode("latin-1"))
    write(seeds, "huge.txt", b"word " * 20_000)
    write(seeds, "good-crlf.txt", CRLF_TEXT.encode())
    write(seeds, "Good CRLF.md", b"# Same id as good-crlf.txt after normalisation\n")
    write(seeds, "ignored.pdf", b"%PDF-1.7")

    service = QAService.open(settings, embedder=FakeEmbedder())

    reasons = {Path(s.path).name: s.reason for s in service.skipped}
    assert set(reasons) == {"empty.txt", "blank.md", "binary.txt", "latin1.txt", "huge.txt", "good-crlf.txt"}
    assert reasons["empty.txt"] == "empty.txt: empty"
    assert reasons["blank.md"] == "blank.md: empty"
    assert reasons["binary.txt"] == "binary.txt: binary content (NUL bytes)"
    assert reasons["latin1.txt"].startswith("latin1.txt: not valid UTF-8 (invalid continuation byte at byte 3)")
    assert reasons["huge.txt"] == "huge.txt: larger than 50000 bytes (100000 bytes)"
    assert reasons["good-crlf.txt"] == "good-crlf.txt: same document id 'good-crlf' as Good CRLF.md"
    # The rest still index: the shipped seed and the first of the two colliding files.
    assert set(service.data.documents) == {"us-ukraine-russia-negotiations", "good-crlf"}
    assert service.data.documents["good-crlf"].path.endswith("Good CRLF.md")


def test_unreadable_file_is_skipped(seeds: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(seeds, "locked.txt", b"secret")
    real_open = Path.open

    def refusing_open(self: Path, *args: object, **kwargs: object) -> object:
        if self.name == "locked.txt":
            raise PermissionError(13, "Permission denied")
        return real_open(self, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(Path, "open", refusing_open)
    docs, skipped = load_documents(seeds)
    assert [d.doc_id for d in docs] == ["us-ukraine-russia-negotiations"]
    assert [s.reason for s in skipped] == ["locked.txt: cannot be read (Permission denied)"]


def test_size_is_checked_before_reading(seeds: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(seeds, "big.txt", b"x" * 1000)
    opened: list[str] = []
    real_open = Path.open

    def spying_open(self: Path, *args: object, **kwargs: object) -> object:
        opened.append(self.name)
        return real_open(self, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(Path, "open", spying_open)
    _, skipped = load_documents(seeds, max_bytes=999)
    assert "big.txt: larger than 999 bytes (1000 bytes)" in [s.reason for s in skipped]
    assert "big.txt" not in opened


def test_crlf_text_is_kept_byte_exact(seeds: Path, settings: Settings) -> None:
    raw = ("\ufeff" + CRLF_TEXT).encode()
    write(seeds, "crlf.txt", raw)
    service = QAService.open(settings, embedder=FakeEmbedder())
    doc = service.document("crlf")
    assert doc.text.encode() == raw  # no newline translation, no BOM stripping, no trimming
    assert doc.title == "Treaty Notes"
    sentences = [s for s in service.data.sentences if s.doc_id == "crlf"]
    assert [s.text for s in sentences] == [
        "\ufeffTreaty Notes",
        "The envoy said Ukraine must cede territory.",
        "The talks resume in May.",
    ]
    for unit in [*sentences, *(c for c in service.data.chunks if c.doc_id == "crlf")]:
        assert doc.text[unit.start : unit.end] == unit.text  # offsets refer to the raw text, CRs included
    quote = "Ukraine must cede territory."
    start = doc.text.index(quote)
    view = service.span("crlf", start, start + len(quote))
    assert view.text == quote and view.before.endswith("\r\nThe envoy said ")


def test_missing_seeds_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match=r"the seeds folder .*nowhere does not exist"):
        load_documents(tmp_path / "nowhere")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Report 2024.txt", "report-2024"),
        ("..hidden.md", "hidden"),
        ("a/../../etc.txt", "etc"),
        ("Ünïcödé Naïve.txt", "n-c-d-na-ve"),
        ("%%%.txt", "document"),
    ],
)
def test_document_ids_are_url_safe(name: str, expected: str) -> None:
    assert doc_id_for(Path(name)) == expected


def test_links_out_of_the_seeds_folder_are_skipped(tmp_path: Path) -> None:
    seeds, elsewhere = tmp_path / "linked-seeds", tmp_path / "private"
    seeds.mkdir()
    elsewhere.mkdir()
    (elsewhere / "secret.txt").write_text("The launch code is 0000.\n", encoding="utf-8")
    (seeds / "notes.txt").write_text("Notes.\n", encoding="utf-8")
    (seeds / "secret.txt").symlink_to(elsewhere / "secret.txt")
    (seeds / "alias.txt").symlink_to(seeds / "notes.txt")  # a link inside the folder is fine
    documents, skipped = load_documents(seeds)
    assert [d.doc_id for d in documents] == ["alias", "notes"]
    assert [s.reason for s in skipped] == ["secret.txt: a symbolic link to a file outside the seeds folder"]
