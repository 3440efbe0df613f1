"""Data sets are verified by checksum, and a bad download leaves nothing behind (no network:
the 'canonical URL' here is a local file:// URL)."""

from __future__ import annotations

import hashlib

import pytest

from learn import data


@pytest.fixture
def registry(tmp_path, monkeypatch):
    source = tmp_path / "source.txt"
    source.write_text("To be, or not to be.\n")
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    monkeypatch.setattr(data, "CACHE", tmp_path / "cache")
    monkeypatch.delenv("LEARN_DATA_DIR", raising=False)
    monkeypatch.setitem(data.DATASETS, "good.txt", data.DataSet(source.as_uri(), digest, "test"))
    monkeypatch.setitem(data.DATASETS, "bad.txt", data.DataSet(source.as_uri(), "0" * 64, "test"))
    monkeypatch.setitem(data.DATASETS, "gone.txt", data.DataSet((tmp_path / "nope").as_uri(), digest, "test"))
    return tmp_path


def test_fetch_downloads_once_and_verifies(registry):
    path = data.fetch("good.txt", progress=False)
    assert path.read_text() == "To be, or not to be.\n"
    assert path.parent == registry / "cache"
    assert data.fetch("good.txt", progress=False) == path


def test_checksum_mismatch_is_a_clear_error_and_leaves_nothing(registry):
    with pytest.raises(data.DataError, match="does not match its checksum"):
        data.fetch("bad.txt", progress=False)
    assert list((registry / "cache").iterdir()) == []


def test_unreachable_url_is_a_clear_error(registry):
    with pytest.raises(data.DataError, match="cannot download gone.txt"):
        data.fetch("gone.txt", progress=False)


def test_shared_copy_is_used_when_set(registry, monkeypatch):
    shared = registry / "shared"
    shared.mkdir()
    (shared / "good.txt").write_text("To be, or not to be.\n")
    monkeypatch.setenv("LEARN_DATA_DIR", str(shared))
    assert data.fetch("good.txt", progress=False) == shared / "good.txt"


def test_unknown_name():
    with pytest.raises(data.DataError, match="unknown data set"):
        data.fetch("nope.txt")
