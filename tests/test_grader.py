"""The grader's own failures are told apart from the learner's: `learn check` exits 3 with a log."""

from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from conftest import mutate
from learn import manifest
from learn.cli import app
from learn.judge import grader
from mutants.stage3_attention import MUTANTS


def test_a_judge_that_cannot_start_is_a_grader_error(monkeypatch, tmp_path):
    def broken_judge(stages, tree, seed, skip, log, root=None):
        return subprocess.Popen([sys.executable, "-c", "import sys; print('boom', file=sys.stderr); sys.exit(5)"],
                                stdout=subprocess.PIPE, stderr=log)  # fmt: skip

    monkeypatch.setattr(grader, "_judge", broken_judge)
    monkeypatch.setenv("LEARN_PROGRESS", str(tmp_path / ".learn" / "progress.json"))
    result = CliRunner().invoke(app, ["check", "stage1", "--impl", "solutions"])
    assert result.exit_code == 3, result.output
    assert "grader error" in result.output and "please report it" in result.output
    logs = list((tmp_path / ".learn" / "logs").glob("grader-*.log"))
    assert len(logs) == 1 and "boom" in logs[0].read_text()


def test_the_seed_replays_a_run(solution_tree):
    """A failure quotes inputs drawn from the run's seed: the same seed, the same messages word for
    word (`learn check --seed` replays a learner's report); another seed, other inputs."""
    stage = manifest.find("stage3")
    mutate(solution_tree, stage, next(m for m in MUTANTS if m.name == "mask_filled_with_zero"))

    def failures(seed: int) -> dict:
        result = grader.grade(stage, solution_tree, seed=seed)
        assert result.seed == seed
        return {c.name: c.message for c in result.checks if not c.passed}

    first = failures(42)
    assert first and failures(42) == first
    other = failures(43)
    assert other.keys() == first.keys() and other != first


def test_a_check_that_builds_on_a_failing_one_says_so(solution_tree):
    """A loss on the first token fails the loss check, and the training loop's check, which calls
    that loss: its hint points to the loss, not to counting examples."""
    from mutants.stage6_finetune import MUTANTS as STAGE6

    stage = manifest.find("stage6")
    mutate(solution_tree, stage, next(m for m in STAGE6 if "classifier_loop_counts_examples" in m.caught_by))
    messages = {c.name: c.message for c in grader.grade(stage, solution_tree).checks if not c.passed}
    assert "builds on classifier_loss_uses_last_token" in messages["classifier_loop_counts_examples"], messages
    assert "builds on" not in messages["classifier_loss_uses_last_token"]
