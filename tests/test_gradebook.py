"""`learn gradebook` grades a folder of submissions into a CSV."""

from __future__ import annotations

import csv
import json
import shutil

from typer.testing import CliRunner

from conftest import copy_solutions
from learn import ROOT, cli, manifest


def test_gradebook_of_two_students(tmp_path):
    subs = tmp_path / "submissions"
    copy_solutions(subs / "ada")
    shutil.copytree(ROOT / "stages" / "stage1_tokenizer", subs / "bob" / "stage1_tokenizer")  # untouched skeleton
    out, details = tmp_path / "grades.csv", tmp_path / "details"
    details.mkdir()
    result = CliRunner().invoke(cli.app, ["gradebook", str(subs), "--out", str(out), "--details", str(details)])
    assert result.exit_code == 0, result.output
    rows = {r["student"]: r for r in csv.DictReader(out.open())}
    ready = [s for s in manifest.load() if s.ready]
    assert int(rows["ada"]["total"]) == sum(s.max_score for s in ready)
    assert rows["bob"]["stage1"] == "0" and rows["bob"]["total"] == "0"
    bob = json.loads((details / "bob.json").read_text())
    first = bob["stages"][0]
    assert first["stage"] == "stage1" and "not implemented yet" in first["checks"][0]["message"]
    assert all(s.get("missing") for s in bob["stages"][1:])  # bob handed in stage 1 only


def test_gradebook_of_a_missing_folder_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(cli.app, ["gradebook", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "no such folder" in result.output


def test_every_student_gets_a_row_whatever_their_code_does(tmp_path):
    subs = tmp_path / "submissions"
    copy_solutions(subs / "ada")
    mallory = subs / "mallory" / "stage1_tokenizer"
    shutil.copytree(ROOT / "stages" / "stage1_tokenizer", mallory)
    # Kill the grader's processes, then the whole group of the parent's parent.
    (mallory / "__init__.py").write_text(
        "import os, signal\n"
        "for pid in (os.getppid(), os.getpgid(0)):\n"
        "    try: os.kill(pid, signal.SIGKILL)\n"
        "    except OSError: pass\n" + (mallory / "__init__.py").read_text()
    )
    out = tmp_path / "grades.csv"
    result = CliRunner().invoke(cli.app, ["gradebook", str(subs), "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = {r["student"]: r for r in csv.DictReader(out.open())}
    assert set(rows) == {"ada", "mallory"} and rows["mallory"]["total"] == "0"
    assert int(rows["ada"]["total"]) == sum(s.max_score for s in manifest.load() if s.ready)


def test_gradebook_makes_the_folders_it_writes_into(tmp_path):
    subs = tmp_path / "submissions"
    shutil.copytree(ROOT / "stages" / "stage1_tokenizer", subs / "bob" / "stage1_tokenizer")
    out, details = tmp_path / "grades" / "grades.csv", tmp_path / "reports"
    result = CliRunner().invoke(cli.app, ["gradebook", str(subs), "--out", str(out), "--details", str(details)])
    assert result.exit_code == 0, result.output
    assert out.is_file() and (details / "bob.json").is_file()


def test_gradebook_into_a_file_is_a_usage_error(tmp_path):
    subs = tmp_path / "submissions"
    (subs / "bob").mkdir(parents=True)
    (tmp_path / "reports").write_text("a file, not a folder")
    result = CliRunner().invoke(cli.app, ["gradebook", str(subs), "--details", str(tmp_path / "reports")])
    assert result.exit_code == 2
    assert "reports" in result.output and "Traceback" not in result.output
