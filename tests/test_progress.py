"""learn/progress.py: one rule for a stage's state, used by `learn status` and `learn check` alike,
and a progress file that is unreadable or holds wrong types is set aside, never trusted."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from conftest import copy_solutions
from learn import cli, manifest, progress
from learn.cli import console

COURSE = manifest.load()
READY = [s.id for s in COURSE if s.ready]
runner = CliRunner()


@pytest.fixture(autouse=True)
def progress_file(tmp_path, monkeypatch):
    path = tmp_path / "progress.json"
    monkeypatch.setenv("LEARN_PROGRESS", str(path))
    return path


def learn(*args):
    return runner.invoke(cli.app, list(args))


def records(**passed: bool) -> progress.Progress:
    prog = progress.Progress()
    for stage_id, ok in passed.items():
        prog.record(stage_id, ok, 1, 1)
    return prog


def states(prog: progress.Progress) -> dict[str, str]:
    return {s.id: prog.state(s, COURSE) for s in COURSE if s.ready}


def test_a_stage_passes_only_with_every_earlier_stage_passed():
    prog = records(stage1=False, stage2=True, stage3=True)
    assert states(prog) == {"stage1": "open", **{s: "locked" for s in READY[1:]}}
    assert prog.blocker(manifest.find("stage3", COURSE), COURSE).id == "stage1"
    prog.record("stage1", True, 1, 1)  # stage 1 passes again: the earlier passes count again
    assert states(prog) == {"stage1": "passed", "stage2": "passed", "stage3": "passed", "stage4": "open",
                            **{s: "locked" for s in READY[4:]}}  # fmt: skip
    assert prog.next_stage(COURSE).id == "stage4"


def test_status_and_check_agree_after_a_passed_stage_breaks(progress_file):
    progress.save(records(stage1=False, **dict.fromkeys(READY[1:], True)))  # every stage passed; then stage 1 broke
    rows = {r["stage"]: r for r in json.loads(learn("status", "--json").stdout)["stages"]}
    assert rows["stage1"]["state"] == "open"
    assert rows["stage3"]["state"] == "locked" and rows["stage3"]["score"] == 1  # the record is kept
    result = learn("check", "stage3")
    assert result.exit_code == 2
    assert "stage3 is locked: pass stage1" in result.output


def test_passing_a_broken_stage_again_does_not_send_the_learner_back(tmp_path, monkeypatch, progress_file):
    monkeypatch.setattr(console, "DEFAULT_TREE", copy_solutions(tmp_path / "mine"))
    progress.save(records(stage1=False, **dict.fromkeys(READY[1:], True)))
    result = learn("check", "1")
    assert result.exit_code == 0, result.output
    assert "learn lesson stage2" not in result.stdout
    status = json.loads(learn("status", "--json").stdout)
    assert {r["stage"]: r["state"] for r in status["stages"] if r["stage"] in READY} == dict.fromkeys(READY, "passed")
    coming = [s for s in COURSE if not s.ready]
    assert ("every ready stage has passed" if coming else "every stage has passed") in status["next"]
    assert status["next"] in " ".join(result.stdout.split())  # check says what status says


@pytest.mark.parametrize(
    ("record", "words"),
    [
        ({"passed": "no", "score": "x", "max_score": 20, "checked_at": "2026-01-01T00:00:00"}, "passed"),
        ({"passed": True, "score": "x", "max_score": 20, "checked_at": "2026-01-01T00:00:00"}, "score"),
        ({"passed": True, "score": 20, "max_score": None, "checked_at": "2026-01-01T00:00:00"}, "max_score"),
        ({"passed": True, "score": 20, "max_score": 20, "checked_at": 7}, "checked_at"),
        ({"passed": True, "score": 20, "max_score": 20}, "checked_at"),
        ("passed", "stage1"),
    ],
)
def test_a_record_of_the_wrong_type_is_set_aside(progress_file, record, words):
    progress_file.write_text(json.dumps({"version": 1, "stages": {"stage1": record}}))
    result = learn("status", "--json")
    assert result.exit_code == 0
    assert "warning:" in result.stderr and words in result.stderr and "started afresh" in result.stderr
    assert {r["stage"]: r["state"] for r in json.loads(result.stdout)["stages"]}["stage2"] == "locked"
    assert progress_file.with_suffix(".corrupt").exists()


def test_a_folder_in_place_of_the_file_is_set_aside_next_to_an_old_one(progress_file):
    progress_file.mkdir()
    old = progress_file.with_suffix(".corrupt")
    old.write_text("the one set aside last time")
    result = learn("status", "--json")
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output and "warning:" in result.stderr
    assert old.read_text() == "the one set aside last time"  # nothing lost
    assert not progress_file.exists()
    assert learn("check", "1").exit_code == 1  # and progress can be written again
    assert progress_file.is_file()
