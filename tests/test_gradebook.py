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


def make_zip(path, files: dict[str, str]) -> None:
    import zipfile

    with zipfile.ZipFile(path, "w") as z:
        for name, text in files.items():
            z.writestr(name, text)


def test_a_class_as_it_comes_in_gets_a_row_each_and_reports_for_each_platform(tmp_path):
    subs = tmp_path / "submissions"
    copy_solutions(subs / "ada")
    copy_solutions(subs / "ben")  # the same files as ada: flagged, never graded down
    stage1 = ROOT / "solutions" / "stage1_tokenizer"
    files = {f"cy/stage1_tokenizer/{p.relative_to(stage1).as_posix()}": p.read_text() for p in stage1.rglob("*.py")}
    make_zip(subs / "cy.zip", files)  # a zipped folder: the stage packages one level down
    make_zip(subs / "dan.zip", {"../../evil.py": "x = 1\n"})
    (subs / "eve").mkdir()  # handed in nothing
    out, scope = tmp_path / "grades.csv", tmp_path / "gradescope"
    args = ["gradebook", str(subs), "--out", str(out), "--stages", "1", "--gradescope", str(scope), "-j", "2"]
    result = CliRunner().invoke(cli.app, args)
    assert result.exit_code == 0, result.output
    rows = {r["student"]: r for r in csv.DictReader(out.open())}
    full = str(manifest.find("stage1").max_score)
    assert list(rows) == ["ada", "ben", "cy", "dan", "eve"]
    assert [rows[s]["total"] for s in rows] == [full, full, full, "0", "0"]
    assert "leaves the folder" in rows["dan"]["note"] and "no stage package" in rows["eve"]["note"]
    assert not (tmp_path / "evil.py").exists()
    assert len({r["course_version"] for r in rows.values()}) == 1 and rows["ada"]["course_version"]
    assert "stage2" not in rows["ada"]  # --stages 1
    results = json.loads((scope / "cy" / "results.json").read_text())
    assert results["score"] == int(full) and all(t["status"] == "passed" for t in results["tests"])
    flags = json.loads((tmp_path / "grades-flags.json").read_text())
    assert {tuple(f["students"]) for f in flags} >= {("ada", "ben", "cy")}

    # A second run grades only what changed.
    bpe = subs / "ben" / "stage1_tokenizer" / "bpe.py"
    bpe.write_text(bpe.read_text() + "\n# ben's own touch\n")
    result = CliRunner().invoke(cli.app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    again = {r["student"]: r for r in json.loads(result.stdout)["rows"]}
    assert [again[s]["cached"] for s in ("ada", "ben", "cy")] == [True, False, True]
    assert again["ben"]["total"] == int(full)


def test_stages_out_of_range_is_a_usage_error(tmp_path):
    (tmp_path / "subs" / "ada").mkdir(parents=True)
    for bad in ("9", "1-9", "x"):
        result = CliRunner().invoke(cli.app, ["gradebook", str(tmp_path / "subs"), "--stages", bad])
        assert result.exit_code == 2, result.output
        assert "--stages" in result.output and "Traceback" not in result.output


def test_an_output_that_cannot_be_written_is_a_usage_error(tmp_path):
    (tmp_path / "subs" / "ada").mkdir(parents=True)
    for out in (tmp_path, tmp_path / "a-file" / "grades.csv"):
        (tmp_path / "a-file").write_text("not a folder")
        result = CliRunner().invoke(cli.app, ["gradebook", str(tmp_path / "subs"), "--out", str(out)])
        assert result.exit_code == 2, result.output
        assert "--out" in result.output or "cannot make" in result.output
        assert "Traceback" not in result.output
