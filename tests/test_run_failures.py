"""A failure in the learner's code during a run is the learner's, said in one line: the stage, the
function, the call the engine made, what went wrong and the check to rerun; its traceback goes to
the run folder's error.log, never to the screen. Trees: solutions/ with one function broken."""

from __future__ import annotations

import shutil

from typer.testing import CliRunner

from conftest import copy_solutions
from learn import cli

runner = CliRunner()
TEXT = " ".join(["the cat sat on the mat and the dog ran to the park"] * 300)


def learn(*args):
    return runner.invoke(cli.app, [str(a) for a in args])


def broken(tmp_path, package: str, code: str):
    """solutions/ with `code` appended to `package`'s __init__.py (a function that replaces the solution's)."""
    tree = copy_solutions(tmp_path / "tree")
    init = tree / package / "__init__.py"
    init.write_text(init.read_text(encoding="utf-8") + "\n\n" + code, encoding="utf-8")
    return tree


def pretrain(tmp_path, tree, run):
    data = tmp_path / "text.txt"
    data.write_text(TEXT, encoding="utf-8")
    return learn("pretrain", "--impl", tree, "--data", data, "--model", "tiny", "--vocab-size", 280,
                 "--context-length", 32, "--batch-size", 2, "--max-steps", 2, "--run", run, "--json")  # fmt: skip


def the_learners(result, run, *said: str) -> None:
    """Exit 1, one line naming `said` and the log; the log holds the traceback."""
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and all(s in lines[0] for s in said), result.stderr
    assert "Traceback" not in result.output and "learn/worker" not in result.output, result.output
    assert "error.log" in lines[0]
    log = (run / "error.log").read_text(encoding="utf-8")
    assert "Traceback" in log and "__init__.py" in log


def test_generate_that_raises_is_one_line_and_a_log(solution_files, tmp_path):
    pretrained = shutil.copytree(solution_files / "pretrained", tmp_path / "run")  # its error.log is this test's
    code = "def generate(model, idx, **kwargs):\n    raise RuntimeError('Boolean value of Tensor is ambiguous')\n"
    tree = broken(tmp_path, "stage4_model", code)
    result = learn("generate", "the cat", "--impl", tree, "--run", pretrained, "--max-new-tokens", 3)
    the_learners(result, pretrained, "stage4_model.generate(GPTModel, (1, ", "int64", "max_new_tokens=3",
                 "RuntimeError: Boolean value", "rerun: learn check stage4")  # fmt: skip


def test_train_step_that_raises_is_one_line_and_a_log(tmp_path):
    code = "def train_step(model, batches, optimizer, device, precision, max_norm=None):\n    raise ValueError('no loss')"
    tree = broken(tmp_path, "stage5_pretrain", code)
    result = pretrain(tmp_path, tree, tmp_path / "run")
    the_learners(result, tmp_path / "run", "stage5_pretrain.train_step(", "list of 1", "max_norm=None",
                 "ValueError: no loss", "rerun: learn check stage5")  # fmt: skip
