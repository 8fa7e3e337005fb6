"""Index files are read once: the bytes that pass the checksum are the bytes decoded."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from rag.durable import array_of_npy, read_checked, write_array_synced

ARRAYS = hnp.arrays(
    dtype=st.sampled_from([np.float32, np.int64, np.int32, np.uint8]),
    shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=6),
)


@settings(max_examples=60, deadline=None)
@given(array=ARRAYS, fortran=st.booleans())
def test_an_npy_file_round_trips_through_its_checked_bytes(
    tmp_path_factory: pytest.TempPathFactory, array: np.ndarray, fortran: bool
) -> None:
    path = tmp_path_factory.mktemp("npy") / "a.npy"
    array = np.asfortranarray(array) if fortran else array
    np.save(path, array)
    content = read_checked(path, hashlib.sha256(path.read_bytes()).hexdigest())
    assert content is not None
    loaded = array_of_npy(content)
    assert loaded.dtype == array.dtype and loaded.shape == array.shape
    np.testing.assert_array_equal(loaded, array)
    loaded[...] = 0  # decoded in place, and writable like np.load's arrays


def test_the_written_vectors_are_read_back(tmp_path: Path) -> None:
    vectors = np.random.default_rng(0).standard_normal((5, 384)).astype(np.float32)
    path = tmp_path / "sentences.npy"
    write_array_synced(path, vectors)
    content = read_checked(path, hashlib.sha256(path.read_bytes()).hexdigest())
    assert content is not None
    np.testing.assert_array_equal(array_of_npy(content), vectors)


def test_a_missing_short_or_changed_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"index bytes")
    checksum = hashlib.sha256(b"index bytes").hexdigest()
    assert read_checked(path, checksum) == bytearray(b"index bytes")
    assert read_checked(path, hashlib.sha256(b"other").hexdigest()) is None
    path.write_bytes(b"index")
    assert read_checked(path, checksum) is None
    assert read_checked(tmp_path / "gone", checksum) is None
