"""The `learn` CLI through Typer's test runner: exit codes, locks, progress, --json."""

from __future__ import annotations

import functools
import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from conftest import copy_solutions
from learn import ROOT, cli, manifest
from learn.cli import console

runner = CliRunner()
STAGE1 = manifest.find("stage1")


@pytest.fixture(autouse=True)
def progress_file(tmp_path, monkeypatch):
    path = tmp_path / "progress.json"
    monkeypatch.setenv("LEARN_PROGRESS", str(path))
    return path


def learn(*args, input=None):
    return runner.invoke(cli.app, list(args), input=input)


def test_status_json_on_a_fresh_checkout():
    result = learn("status", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    states = {s["stage"]: s["state"] for s in data["stages"]}
    assert states["stage1"] == "open"
    assert [s["stage"] for s in data["stages"]] == [s.id for s in manifest.load()]
    assert "learn check stage1" in data["next"]


def test_status_table():
    result = learn("status")
    assert result.exit_code == 0
    assert "stage1" in result.stdout and "open" in result.stdout


def test_locked_stage_exits_2_and_names_the_stage_to_pass():
    result = learn("check", "2")
    assert result.exit_code == 2
    assert "stage2 is locked: pass stage1" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["check", "stage9"], "unknown stage 'stage9'"),
        (["check", "1", "--impl", "/no/such/folder"], "no such folder"),
        (["lesson", "banana"], "unknown stage"),
    ],
)
def test_usage_errors_exit_2_with_one_line(args, message):
    result = learn(*args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_impl_that_is_not_a_tree(tmp_path):
    result = learn("check", "1", "--impl", str(tmp_path))
    assert result.exit_code == 2
    assert "holds no stage1_tokenizer/ folder" in result.output


def test_check_json_schema_on_solutions():
    result = learn("check", "stage1", "--impl", "solutions", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["stage"] == "stage1"
    assert data["score"] == data["max_score"] == STAGE1.max_score
    assert [c["name"] for c in data["checks"]] == [c.name for c in STAGE1.checks]
    for c in data["checks"]:
        assert set(c) >= {"name", "points", "passed", "message"}
        assert c["passed"] is True


def test_failing_check_shows_expected_lesson_and_hint_not_a_traceback():
    result = learn("check", "1", "--impl", "stages")
    assert result.exit_code == 1
    assert "not implemented yet" in result.stdout
    assert "lesson: §2 Counting pairs" in result.stdout
    assert "hint:" in result.stdout
    assert "Traceback" not in result.output


def test_impl_run_records_nothing(progress_file):
    learn("check", "1", "--impl", "solutions")
    assert not progress_file.exists()


def test_passing_the_default_tree_unlocks_the_next_stage(tmp_path, monkeypatch, progress_file):
    monkeypatch.setattr(console, "DEFAULT_TREE", copy_solutions(tmp_path / "mine"))
    result = learn("check", "1")
    assert result.exit_code == 0, result.output
    assert "stage1 passed" in result.stdout
    saved = json.loads(progress_file.read_text())
    assert saved["stages"]["stage1"]["passed"] is True
    states = {s["stage"]: s["state"] for s in json.loads(learn("status", "--json").stdout)["stages"]}
    assert states["stage1"] == "passed"
    assert states["stage2"] in ("open", "coming")


def test_failing_default_tree_keeps_the_next_stage_locked(progress_file):
    result = learn("check", "1")  # the untouched skeleton
    assert result.exit_code == 1
    assert json.loads(progress_file.read_text())["stages"]["stage1"]["passed"] is False
    assert learn("check", "2").exit_code == 2


@pytest.mark.parametrize("garbage", ["{not json", '{"version": 99}', "[]", ""])
def test_corrupt_progress_is_rebuilt_with_a_warning(progress_file, garbage):
    progress_file.write_text(garbage)
    result = learn("status", "--json")
    assert result.exit_code == 0
    assert "warning:" in result.stderr and "started afresh" in result.stderr
    assert json.loads(result.stdout)["stages"][0]["state"] == "open"
    assert progress_file.with_suffix(".corrupt").exists()  # nothing lost


def test_lesson_renders_and_lists_files():
    result = learn("lesson", "1")
    assert result.exit_code == 0
    assert "stages/stage1_tokenizer/bpe.py" in result.stdout
    assert "learn check stage1" in result.stdout


@pytest.fixture
def stage6_coming(tmp_path, monkeypatch):
    """A made-up course: this one, but stage 6 is not written yet (status "coming"), as a release
    may ship; every stage of the real manifest is ready, so the real one cannot show it."""
    head, _, tail = (ROOT / "curriculum.toml").read_text(encoding="utf-8").rpartition('status = "ready"')
    path = tmp_path / "curriculum.toml"
    path.write_text(f'{head}status = "coming"{tail}', encoding="utf-8")
    monkeypatch.setattr(manifest, "load", functools.partial(manifest.load, path))
    course = manifest.load()
    assert [s.id for s in course if not s.ready] == ["stage6"]
    return course


def test_coming_stage_is_shown_never_graded(stage6_coming, progress_file):
    result = learn("check", "stage6", "--impl", "solutions")
    assert result.exit_code == 2 and "stage6 (" in result.output and "is coming in a later release" in result.output
    result = learn("check", "stage6")  # the default tree obeys the locks first
    assert result.exit_code == 2 and "stage6 is locked: pass stage1" in result.output
    row = json.loads(learn("status", "--json").stdout)["stages"][-1]
    assert row == {"stage": "stage6", "title": stage6_coming[5].title, "state": "coming", "score": None,
                   "max_score": None}  # fmt: skip
    passed = {"passed": True, "score": 1, "max_score": 1, "checked_at": "2026-01-01T00:00:00"}
    progress_file.write_text(json.dumps({"version": 1, "stages": {s.id: passed for s in stage6_coming[:5]}}))
    status = json.loads(learn("status", "--json").stdout)
    assert [r["state"] for r in status["stages"]] == ["passed"] * 5 + ["coming"]
    assert status["next"].startswith("every ready stage has passed; stage6") and "is coming next" in status["next"]
    assert "is coming in a later release" in learn("check", "stage6").output  # open now, and still not graded


def test_reset_restores_the_skeleton_and_keeps_a_backup(tmp_path, monkeypatch, progress_file):
    mine = copy_solutions(tmp_path / "mine")
    monkeypatch.setattr(console, "DEFAULT_TREE", mine)
    edited = mine / "stage1_tokenizer" / "bpe.py"
    work = edited.read_text()
    assert learn("reset", "1", input="n\n").exit_code == 1  # asked, declined: untouched
    assert edited.read_text() == work
    result = learn("reset", "1", "--yes")
    assert result.exit_code == 0, result.output
    assert edited.read_text() == (ROOT / "stages" / "stage1_tokenizer" / "bpe.py").read_text()
    backups = list((progress_file.parent / "backup").rglob("bpe.py"))
    assert len(backups) == 1 and backups[0].read_text() == work
    assert "already the untouched skeleton" in learn("reset", "1").output


def test_reset_brings_back_a_deleted_stage_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(console, "DEFAULT_TREE", tmp_path)
    result = learn("reset", "1", "--yes")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "stage1_tokenizer" / "__init__.py").is_file()
    assert learn("check", "1").exit_code == 1  # graded again: the skeleton fails


def test_missing_stage_folder_is_a_usage_error(tmp_path, monkeypatch):
    monkeypatch.setattr(console, "DEFAULT_TREE", tmp_path)
    result = learn("check", "1")
    assert result.exit_code == 2
    assert "stages/stage1_tokenizer/ is missing" in result.output


def test_cli_starts_without_importing_torch():
    code = "import sys, learn.cli; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


# Every CLI module imported, then `learn prepare` run up to its first probe, with a Workers that says
# whether torch is in the process by then and ends it there.
UP_TO_THE_WORKER = """
import importlib, os, pkgutil, sys
import learn.cli
from learn.judge import workers

for module in pkgutil.iter_modules(learn.cli.__path__):
    importlib.import_module(f"learn.cli.{module.name}")

class Stop:
    def __init__(self, *args, **kwargs):
        pass

    def run(self, probe, *args, **kwargs):
        print(probe, "torch" in sys.modules, flush=True)
        os._exit(0)

workers.Workers = Stop
learn.cli.app(["prepare", sys.argv[1], "--impl", "solutions", "--out", sys.argv[2]])
"""


def test_commands_name_their_probes_without_importing_torch(tmp_path):
    """The CLI names the engine's probes ("learn.engine.corpus:probe_encode"), the worker imports
    them: importing them here would cost torch's seconds in a process that never uses it."""
    text = tmp_path / "words.txt"
    text.write_text("the cat sat on the mat " * 100, encoding="utf-8")
    command = [sys.executable, "-c", UP_TO_THE_WORKER, text, tmp_path / "words.bin"]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.stdout == "learn.engine.corpus:probe_train_tokenizer False\n", done.stderr


def test_every_package_of_learn_is_installed():
    import tomllib

    listed = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    found = sorted(".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "learn").rglob("__init__.py"))
    assert sorted(listed) == found, "list every package of learn/ in pyproject.toml [tool.setuptools] packages"


@pytest.mark.parametrize("answer", ["n\n", ""], ids=["no", "end_of_input"])
def test_declined_reset_says_nothing_changed(tmp_path, monkeypatch, answer):
    mine = copy_solutions(tmp_path / "mine")
    monkeypatch.setattr(console, "DEFAULT_TREE", mine)
    result = learn("reset", "1", input=answer)
    assert result.exit_code == 1
    assert "nothing changed" in result.output and "Aborted" not in result.output
    assert not (tmp_path / "backup").exists()


@pytest.mark.parametrize(
    "command",
    [[], ["status"], ["lesson"], ["check"], ["reset"], ["gradebook"], ["show"], ["show", "attention"], ["finetune"], ["finetune", "classify"],
     ["finetune", "instruct"], ["classify"]],
)
def test_help_reads_cleanly(command):
    result = learn(*command, "--help")
    assert result.exit_code == 0
    usage = result.output.split("Usage:")[1].splitlines()[0]
    assert "{" not in usage and "<bool>" not in result.output, result.output


def test_points_line_up_whatever_the_length_of_a_check_name(monkeypatch):
    from learn.judge import grader

    stage = manifest.find("stage2")  # names from 27 to 45 characters
    fake = grader.StageResult(stage.id, "tree", [grader.CheckResult(c.name, c.points, True, "") for c in stage.checks], 0.1, 7)
    monkeypatch.setattr(grader, "grade_stages", lambda stages, tree, seed: [fake])
    result = learn("check", "2", "--impl", "solutions")
    rows = [line for line in result.stdout.splitlines() if "✓" in line]
    assert len(rows) == len(stage.checks)
    assert len({line.index("/") for line in rows}) == 1, "\n".join(rows)


def test_lesson_is_paged_in_a_terminal_and_printed_when_piped(monkeypatch):
    import io

    from rich.console import Console
    from rich.pager import SystemPager

    from learn.cli import lesson

    paged = []
    monkeypatch.setattr(SystemPager, "_pager", lambda self, text: paged.append(text))
    monkeypatch.setenv("LESS", "-R")  # the command sets a default for less: keep it from this process
    assert "§2" in learn("lesson", "1").stdout and not paged  # piped (the test runner): printed
    screen = io.StringIO()
    monkeypatch.setattr(lesson, "out", Console(file=screen, force_terminal=True, width=80))
    assert learn("lesson", "1").exit_code == 0
    assert len(paged) == 1 and "§2" in paged[0]
    assert "learn check stage1" in screen.getvalue() and "§2" not in screen.getvalue()  # after the pager: what to do next


def test_check_all_grades_every_ready_stage_in_one_run():
    ready = [s for s in manifest.load() if s.ready]
    result = learn("check", "--all", "--impl", "solutions")
    assert result.exit_code == 0, result.output
    assert f"total {sum(s.max_score for s in ready)}/{sum(s.max_score for s in ready)}" in result.stdout
    assert all(f"{s.id} · {s.title}" in result.stdout for s in ready)
    for args in (["check"], ["check", "1", "--all"], ["check", "1", "--gradescope", "r.json"]):
        result = learn(*args)
        assert result.exit_code == 2 and "Traceback" not in result.output, result.output
