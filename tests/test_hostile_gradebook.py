"""Hostile submissions and output folders against `learn gradebook`.

Each attack is graded like any class, on stage 1 only, and must leave every row written, honest
code with its marks, nothing running, and nothing left in /tmp.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import socket
import stat
import tempfile
import time
import zipfile

import pytest
from typer.testing import CliRunner

from learn import ROOT, cli, manifest
from learn.judge import reaper

FULL = manifest.find("stage1").max_score
ROOT_HERE = os.geteuid() == 0


def _stage1(folder, source="solutions"):
    """`folder` holding stage 1's solution (or its untouched skeleton, source="stages")."""
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / source / "stage1_tokenizer", folder / "stage1_tokenizer", ignore=ignore)
    return folder


@pytest.fixture(autouse=True)
def own_tmp(tmp_path, monkeypatch):
    """A temporary folder of this test's own for the gradebook, its judges and their workers, so
    that what they leave there is theirs (other runs may share /tmp)."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setattr(tempfile, "tempdir", None)
    return tmp


def _gradebook(subs, out, *more, code=0):
    """Grade `subs` on stage 1 into `out`; check that nothing is left running or in the temporary
    folder. The rows by student (exit 0), or the CLI's output (any other `code`)."""
    start = time.monotonic()
    result = CliRunner().invoke(cli.app, ["gradebook", str(subs), "--out", str(out), "--stages", "1", "-j", "2", *more])
    assert result.exit_code == code, result.output
    assert time.monotonic() - start < 120
    assert reaper.children(os.getpid()) == [], "a process outlived the gradebook"
    assert os.listdir(tempfile.gettempdir()) == [], "the gradebook left files in the temporary folder"
    if code:
        lines = result.output.strip().splitlines()
        assert "Traceback" not in result.output and sum(line.startswith("error:") for line in lines) == 1, result.output
        return result.output
    rows = {r["student"]: r for r in csv.DictReader(out.open(encoding="utf-8"))}
    assert len(rows) == sum(1 for _ in out.open(encoding="utf-8")) - 1, "a student has two rows"
    return rows


def _make_socket(path) -> None:
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(path))


def test_files_that_are_not_plain_files_are_refused_with_a_note(tmp_path):
    subs = tmp_path / "subs"
    _stage1(subs / "ada")
    os.mkfifo(_stage1(subs / "ben") / ".git")  # never handed to a worker: no harm in it
    (subs / "ben" / "stage1_tokenizer" / "same.py").symlink_to("bpe.py")  # stays inside: fine
    hostile = {
        "fifo": ("stage1_tokenizer/bpe.py", os.mkfifo, "not a plain file (a FIFO)"),
        "fifo_helper": ("helpers.py", os.mkfifo, "not a plain file (a FIFO)"),
        "socket": ("stage1_tokenizer/bpe.py", _make_socket, "not a plain file (a socket)"),
        "solution_link": ("stage1_tokenizer/bpe.py",
                          lambda p: p.symlink_to(ROOT / "solutions" / "stage1_tokenizer" / "bpe.py"),
                          "a symbolic link to outside the submission"),  # fmt: skip
        "package_link": ("stage1_tokenizer", lambda p: p.symlink_to(ROOT / "solutions" / "stage1_tokenizer"),
                         "a symbolic link to outside the submission"),  # fmt: skip
    }
    if ROOT_HERE:
        hostile["device"] = ("stage1_tokenizer/bpe.py", lambda p: os.mknod(p, stat.S_IFCHR | 0o666, os.makedev(1, 5)),
                             "not a plain file (a device)")  # fmt: skip  (/dev/zero: endless)
    for student, (rel, make, _) in hostile.items():
        path = _stage1(subs / student) / rel
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
        make(path)
    rows = _gradebook(subs, tmp_path / "grades.csv", "--details", str(tmp_path / "reports"))
    assert set(rows) == {"ada", "ben", *hostile}
    assert rows["ada"]["total"] == rows["ben"]["total"] == str(FULL)
    for student, (rel, _, why) in hostile.items():
        assert rows[student]["total"] == "0", student
        assert rows[student]["note"] == f"refused {rel}: {why}", rows[student]["note"]


def _zip(path, tree) -> None:
    """`tree`'s files in a zip at `path`."""
    with zipfile.ZipFile(path, "w") as z:
        for p in sorted(tree.rglob("*.py")):
            z.write(p, p.relative_to(tree).as_posix())


def test_submissions_whose_names_collide_get_a_row_each_graded_on_their_own_code(tmp_path):
    subs, honest, skeleton = tmp_path / "subs", _stage1(tmp_path / "honest"), _stage1(tmp_path / "skeleton", "stages")
    _stage1(subs / "dave")
    _zip(subs / "dave.zip", skeleton)
    _zip(subs / "carol.zip", honest)
    _zip(subs / "carol.ZIP", skeleton)
    _stage1(subs / "Erin")
    _stage1(subs / "erin", "stages")  # one folder on macOS: their reports must not be one file either
    reports, scope = tmp_path / "reports", tmp_path / "gradescope"
    rows = _gradebook(subs, tmp_path / "grades.csv", "--details", str(reports), "--gradescope", str(scope))
    totals = {student: int(row["total"]) for student, row in rows.items()}
    assert totals == {"dave": FULL, "dave.zip": 0, "carol.ZIP": 0, "carol.zip": FULL, "Erin": FULL, "erin": 0}
    written = {p.stem: json.loads(p.read_text())["student"] for p in reports.iterdir()}
    assert len({name.casefold() for name in written}) == len(rows) and set(written.values()) == set(rows)
    assert written["carol.zip~2"] == "carol.zip" and written["erin~2"] == "erin"
    scores = {json.loads((folder / "results.json").read_text())["score"] for folder in scope.iterdir()}
    assert len({p.name.casefold() for p in scope.iterdir()}) == len(rows) and scores == {0, FULL}


def test_a_kept_grade_follows_code_moved_out_of_the_stage_package(tmp_path):
    subs = tmp_path / "subs"
    mallory = _stage1(subs / "mallory")
    bpe = mallory / "stage1_tokenizer" / "bpe.py"
    (mallory / "helpers.py").write_text(bpe.read_text())
    bpe.write_text("from helpers import *  # noqa: F403\n")
    out = tmp_path / "grades.csv"
    assert _gradebook(subs, out)["mallory"]["total"] == str(FULL)
    (mallory / "helpers.py").write_text((ROOT / "stages" / "stage1_tokenizer" / "bpe.py").read_text())
    assert _gradebook(subs, out)["mallory"]["total"] == "0"  # graded again, not kept from the first run


def _victim(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("the grader's own file")
    return victim


def test_names_planted_in_a_world_writable_output_folder_are_never_written_through(tmp_path):
    subs, out_dir, victim = tmp_path / "subs", tmp_path / "out", _victim(tmp_path)
    _stage1(subs / "ada")
    out_dir.mkdir(mode=0o777)
    out_dir.chmod(0o777)
    cache = out_dir / ".grades-cache"
    os.mkfifo(out_dir / f".grades.csv.{os.getpid()}.tmp")  # the old, guessable temporary names
    (out_dir / f".grades-flags.json.{os.getpid()}.tmp").symlink_to(victim)
    rows = _gradebook(subs, out_dir / "grades.csv")
    assert rows["ada"]["total"] == str(FULL)
    assert stat.S_IMODE((out_dir / "grades.csv").lstat().st_mode) == 0o644
    assert victim.read_text() == "the grader's own file"
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700 and cache.stat().st_uid == os.geteuid()
    assert [stat.S_IMODE(p.stat().st_mode) for p in cache.iterdir()] == [0o600]
    assert not [p for p in out_dir.iterdir() if p.name.endswith(".tmp") and stat.S_ISREG(p.lstat().st_mode)]


@pytest.mark.parametrize("planted", ["link", "fifo", "report_link"])
def test_an_output_that_is_a_link_or_a_fifo_is_refused_in_one_line(tmp_path, planted):
    subs, victim = tmp_path / "subs", _victim(tmp_path)
    _stage1(subs / "ada")
    reports = tmp_path / "reports"
    reports.mkdir()
    target = reports / "ada.json" if planted == "report_link" else tmp_path / "grades.csv"
    os.mkfifo(target) if planted == "fifo" else target.symlink_to(victim)
    output = _gradebook(subs, tmp_path / "grades.csv", "--details", str(reports), code=2)
    assert "not a plain file" in output and victim.read_text() == "the grader's own file"
    assert stat.S_IFMT(target.lstat().st_mode) in (stat.S_IFIFO, stat.S_IFLNK)  # left as it was


def test_a_cache_folder_others_can_write_is_refused(tmp_path):
    subs = tmp_path / "subs"
    _stage1(subs / "ada")
    cache = tmp_path / ".grades-cache"
    cache.mkdir()
    cache.chmod(0o777)  # a student's process could have left forged rows in it
    output = _gradebook(subs, tmp_path / "grades.csv", code=2)
    assert "--fresh" in output
    assert _gradebook(subs, tmp_path / "grades.csv", "--fresh")["ada"]["total"] == str(FULL)
