"""A failure in the learner's code during a run is the learner's, said in one line: the stage, the
function, the call the engine made, what went wrong and the check to rerun; its traceback goes to
the run folder's error.log, never to the screen. Trees: solutions/ with one function broken."""

from __future__ import annotations

import json
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
                 "--context-length", 192, "--batch-size", 2, "--max-steps", 2, "--run", run, "--json")  # fmt: skip


def one_line(result, *said: str) -> str:
    """Exit 1 and one error line naming `said`, the last (progress lines may come before it), no
    traceback on screen: the line."""
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("error:")]
    assert errors == lines[-1:] and all(s in errors[0] for s in said), result.stderr
    assert "Traceback" not in result.output and "learn/engine" not in result.output, result.output
    return errors[0]


def the_learners(result, run, *said: str) -> None:
    """Exit 1, one line naming `said` and the log; the log holds the traceback."""
    line = one_line(result, *said)
    assert "error.log" in line
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
    code = "def train_step(model, batches, optimizer, device, precision, max_norm=None):\n    raise ValueError('nan')"
    tree = broken(tmp_path, "stage5_pretrain", code)
    result = pretrain(tmp_path, tree, tmp_path / "run")
    the_learners(result, tmp_path / "run", "stage5_pretrain.train_step(", "list of 1", "max_norm=None",
                 "ValueError: nan", "rerun: learn check stage5")  # fmt: skip


BROKEN_ENCODE = """\
def encode(self, text, allowed_special="all"):
    raise RuntimeError("encode is broken")


BPETokenizer.encode = encode
"""


def test_a_tokenizer_whose_encode_raises_in_prepare_is_one_line_and_a_log(tmp_path, monkeypatch):
    monkeypatch.setenv("LEARN_PROGRESS", str(tmp_path / "progress.json"))  # the log goes beside it, in logs/
    (tmp_path / "text.txt").write_text(TEXT, encoding="utf-8")
    tree = broken(tmp_path, "stage1_tokenizer", BROKEN_ENCODE)
    result = learn("prepare", tmp_path / "text.txt", "--impl", tree, "--vocab-size", 280,
                   "--out", tmp_path / "text.bin")  # fmt: skip
    one_line(result, "stage1_tokenizer.encode(", "RuntimeError: encode is broken", "rerun: learn check stage1",
             "traceback in")  # fmt: skip
    (log,) = (tmp_path / "logs").glob("run-*.log")
    assert "Traceback" in log.read_text(encoding="utf-8")


def test_a_train_step_that_returns_no_number_is_one_line(tmp_path):
    code = "def train_step(model, batches, optimizer, device, precision, max_norm=None):\n    return 'the loss'"
    tree = broken(tmp_path, "stage5_pretrain", code)
    result = pretrain(tmp_path, tree, tmp_path / "run")
    one_line(result, "your stage5_pretrain.train_step returned 'the loss'", "the engine needs a number",
             "rerun: learn check stage5")  # fmt: skip


BOOK_GENERATE = """\
import torch as _torch


def generate(model, idx, max_new_tokens, context_size, temperature=0.0, top_k=None, eos_id=None):
    for _ in range(max_new_tokens):
        with _torch.no_grad():
            logits = model(idx[:, -context_size:])[:, -1, :]  # (B, vocab_size)
        idx_next = _torch.argmax(logits, dim=-1, keepdim=True)  # (B, 1)
        if idx_next == eos_id:  # the book's rule, for one prompt: a batch of them cannot say yes or no
            break
        idx = _torch.cat((idx, idx_next), dim=1)  # (B, T + 1)
    return idx
"""


def test_finetune_instruct_with_the_book_s_generate_is_one_line_and_a_log(solution_files, tmp_path):
    """The book's generate stops at `if idx_next == eos_id`: right for one prompt, and a RuntimeError
    for a batch of them, which the test instructions are (prompts of one length go together)."""
    same = [{"instruction": "Say the word.", "input": "", "output": "cat"}] * 30
    (tmp_path / "same.json").write_text(json.dumps(same), encoding="utf-8")
    tree = broken(tmp_path, "stage4_model", BOOK_GENERATE)
    run = tmp_path / "instruct"
    result = learn("finetune", "instruct", "--impl", tree, "--init", solution_files / "pretrained",
                   "--data", tmp_path / "same.json", "--tasks", 0, "--eval-tasks", 1, "--epochs", 1,
                   "--batch-size", 25, "--max-new-tokens", 2, "--run", run)  # fmt: skip
    the_learners(result, run, "stage4_model.generate(GPTModel, (3, ", "eos_id=",
                 "RuntimeError: Boolean value of Tensor", "rerun: learn check stage4")  # fmt: skip
