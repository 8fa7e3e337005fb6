"""Index files are read once: the bytes that pass the checksum are the bytes decoded."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rag.durable import read_checked, sha256_file


@settings(max_examples=40, deadline=None)
@given(content=st.binary(max_size=5000))
def test_the_checked_bytes_are_the_file_and_its_checksum_is_sha256(
    tmp_path_factory: pytest.TempPathFactory, content: bytes
) -> None:
    path = tmp_path_factory.mktemp("f") / "f"
    path.write_bytes(content)
    checksum = hashlib.sha256(content).hexdigest()
    assert sha256_file(path) == checksum
    assert read_checked(path, checksum) == bytearray(content)


def test_a_missing_short_or_changed_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"index bytes")
    checksum = hashlib.sha256(b"index bytes").hexdigest()
    assert read_checked(path, checksum) == bytearray(b"index bytes")
    assert read_checked(path, hashlib.sha256(b"other").hexdigest()) is None
    path.write_bytes(b"index")
    assert read_checked(path, checksum) is None
    assert read_checked(tmp_path / "gone", checksum) is None
