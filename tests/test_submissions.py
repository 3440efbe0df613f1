"""Submissions as they come: folders, zips (unpacked safely), packages one level down."""

from __future__ import annotations

import stat
import zipfile

import pytest

from learn import manifest
from learn.judge import submissions
from learn.judge.submissions import Refused, find, unzip

COURSE = manifest.load()


def _zip(path, entries: dict[str, bytes], links: dict[str, str] | None = None):
    with zipfile.ZipFile(path, "w") as z:
        for name, data in entries.items():
            z.writestr(name, data)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            z.writestr(info, target)
    return path


def test_folders_zips_and_packages_one_level_down(tmp_path):
    subs = tmp_path / "subs"
    (subs / "ada" / "stage1_tokenizer").mkdir(parents=True)
    (subs / "bob" / "my-work" / "stage1_tokenizer").mkdir(parents=True)
    (subs / "eve" / "notes").mkdir(parents=True)
    _zip(subs / "cy.zip", {"handin/stage1_tokenizer/__init__.py": b"", "handin/stage2_data/__init__.py": b""})
    _zip(subs / "dee.zip", {"stage1_tokenizer/__init__.py": b""})
    got = {s.name: s for s in find(subs, COURSE, tmp_path / "work")}
    assert sorted(got) == ["ada", "bob", "cy", "dee", "eve"]
    assert got["ada"].tree == subs / "ada"
    assert got["bob"].tree == subs / "bob" / "my-work"
    assert got["cy"].tree == tmp_path / "work" / "cy" / "handin"
    assert (got["dee"].tree / "stage1_tokenizer" / "__init__.py").is_file()
    assert got["eve"].tree is None and "no stage package" in got["eve"].note


@pytest.mark.parametrize(
    ("entries", "links", "words"),
    [
        ({"../escape.py": b"x"}, None, "leaves the folder"),
        ({"stage1_tokenizer/../../escape.py": b"x"}, None, "leaves the folder"),
        ({"/etc/evil.py": b"x"}, None, "absolute path"),
        ({"C:/evil.py": b"x"}, None, "absolute path"),
        ({"stage1_tokenizer/__init__.py": b""}, {"stage1_tokenizer/bpe.py": "/work/solutions/stage1_tokenizer/bpe.py"}, "symbolic link"),
    ],
    ids=["dotdot", "nested_dotdot", "absolute", "drive", "symlink"],
)
def test_unsafe_zips_are_refused_whole(tmp_path, entries, links, words):
    archive = _zip(tmp_path / "bad.zip", entries, links)
    with pytest.raises(Refused, match=words):
        unzip(archive, tmp_path / "out" / "bad")
    assert not (tmp_path / "out" / "bad").exists()
    assert not (tmp_path / "escape.py").exists() and not (tmp_path / "out" / "escape.py").exists()


def test_a_zip_bomb_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(submissions, "MAX_BYTES", 1000)
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("stage1_tokenizer/big.py", b"0" * 100_000)  # compresses to almost nothing
    with pytest.raises(Refused, match="unpacked"):
        unzip(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_refused_zip_still_gets_a_row(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    _zip(subs / "mallory.zip", {"../x.py": b""})
    (subs / "junk.zip").write_bytes(b"not a zip")
    got = {s.name: s for s in find(subs, COURSE, tmp_path / "work")}
    assert got["mallory"].tree is None and "refused mallory.zip" in got["mallory"].note
    assert got["junk"].tree is None and "not a readable zip" in got["junk"].note


def test_names_that_collide_are_told_apart_and_their_files_too_ignoring_case(tmp_path):
    subs = tmp_path / "subs"
    for folder in ("x", "Erin", "erin", "solo"):
        (subs / folder / "stage1_tokenizer").mkdir(parents=True)
    for archive in ("x.zip", "x.zip.zip", "carol.zip", "carol.ZIP", "solo2.Zip"):
        _zip(subs / archive, {"stage1_tokenizer/__init__.py": b""})
    got = find(subs, COURSE, tmp_path / "work")
    assert [(s.name, s.file) for s in got] == [
        ("Erin", "Erin"), ("carol.ZIP", "carol.ZIP"), ("carol.zip", "carol.zip~2"), ("erin", "erin~2"),
        ("solo", "solo"), ("solo2", "solo2"), ("x", "x"), ("x.zip", "x.zip"), ("x.zip.zip", "x.zip.zip"),
    ]  # fmt: skip
    assert all(s.tree is not None for s in got)
    assert len({s.tree for s in got}) == len(got)
