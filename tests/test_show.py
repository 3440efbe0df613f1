"""`learn show attention`: a well-formed PNG from solutions/, one clear line and exit 1 or 2 for
bad input or learner code that fails, and the learner's code only ever in a child process."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from conftest import copy_solutions
from learn import cli
from learn.cli import console, show

runner = CliRunner()
SENTENCE = "Your journey starts with one step"


def learn(*args):
    return runner.invoke(cli.app, list(args))


def test_attention_png_from_solutions(tmp_path):
    out = tmp_path / "attention.png"
    result = learn("show", "attention", SENTENCE, "--impl", "solutions", "--out", str(out), "--heads", "2")
    assert result.exit_code == 0, result.output
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 10_000  # two panels with labels, not an empty canvas
    import matplotlib.image

    pixels = matplotlib.image.imread(out)
    height, width = pixels.shape[:2]
    assert width > height > 200  # two panels side by side
    assert pixels[..., :3].std() > 0.05  # a picture, not a blank


def test_tokens_are_words_and_punctuation():
    assert show.tokenize("Your journey  starts...\n") == ["Your", "journey", "starts", "..."]
    assert show.tokenize(" \n\t") == []


def test_the_cli_process_never_imports_the_learners_code_torch_or_matplotlib(tmp_path):
    code = (
        "import sys; from typer.testing import CliRunner; from learn import cli\n"
        f"r = CliRunner().invoke(cli.app, ['show', 'attention', 'a b c', '--impl', 'solutions', '--out', {str(tmp_path / 'a.png')!r}])\n"
        "assert r.exit_code == 0, r.output\n"
        "sys.exit(any(m in sys.modules for m in ('torch', 'stage3_attention')))\n"
    )  # fmt: skip
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
    code = "import sys, learn.cli.show; sys.exit(any(m in sys.modules for m in ('torch', 'matplotlib')))"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["", "--impl", "solutions"], "the sentence is empty"),
        (["   ", "--impl", "solutions"], "the sentence is empty"),
        ([SENTENCE, "--impl", "/no/such/folder"], "no such folder"),
        ([" ".join(["word"] * 40), "--impl", "solutions"], "at most"),
        ([SENTENCE, "--impl", "solutions", "--out", "/no/such/folder/a.png"], "does not exist"),
        ([SENTENCE, "--impl", "solutions", "--out", "a.jpg"], "ending in .png"),
    ],
)
def test_bad_input_exits_2_with_one_line(args, message):
    result = learn("show", "attention", *args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_missing_stage_folder_exits_2(tmp_path):
    result = learn("show", "attention", SENTENCE, "--impl", str(tmp_path))
    assert result.exit_code == 2
    assert "holds no stage3_attention/ folder" in result.output


def test_skeleton_says_not_implemented(tmp_path):
    out = tmp_path / "a.png"
    result = learn("show", "attention", SENTENCE, "--impl", "stages", "--out", str(out))
    assert result.exit_code == 1
    assert "not implemented yet" in result.stderr
    assert "learn check stage3" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output
    assert not out.exists()


@pytest.mark.parametrize(
    ("prepend", "words"),
    [
        ("import os\nos._exit(0)\n", "exited with code 0"),
        ("import sys\nsys.exit(3)\n", "sys.exit(3)"),
        ("print('noise on stdout')\nraise RuntimeError('boom')\n", "RuntimeError: boom (at stage3_attention/__init__.py:2"),
    ],
    ids=["os_exit", "sys_exit", "raises"],
)
def test_learner_code_that_dies_is_one_line_and_exit_1(tmp_path, prepend, words):
    tree = copy_solutions(tmp_path / "tree")
    init = tree / "stage3_attention" / "__init__.py"
    init.write_text(prepend + init.read_text())
    result = learn("show", "attention", SENTENCE, "--impl", str(tree), "--out", str(tmp_path / "a.png"))
    assert result.exit_code == 1, result.output
    assert words in result.stderr
    assert "Traceback" not in result.output


def test_learner_code_that_hangs_is_stopped(tmp_path, monkeypatch):
    monkeypatch.setattr(show, "TIMEOUT", 3)
    tree = copy_solutions(tmp_path / "tree")
    init = tree / "stage3_attention" / "__init__.py"
    init.write_text("while True:\n    pass\n")
    result = learn("show", "attention", SENTENCE, "--impl", str(tree), "--out", str(tmp_path / "a.png"))
    assert result.exit_code == 1
    assert "did not finish within 3 s" in result.stderr


def test_picture_goes_to_the_output_folder_and_counts_read_right(tmp_path, monkeypatch):
    out = tmp_path / ("a-folder-with-a-long-name-" * 4) / "out"  # longer than the terminal is wide
    out.parent.mkdir()
    monkeypatch.setattr(console, "OUT", out)
    result = learn("show", "attention", "Hello", "--impl", "solutions", "--heads", "1")
    assert result.exit_code == 0, result.output
    assert (out / "attention.png").is_file()
    assert str(out / "attention.png") in result.stdout  # whole, to copy: never broken at the terminal's width
    assert "1 head x 1 token" in result.stdout


def test_the_output_folder_is_git_ignored():
    from learn import ROOT

    assert console.OUT == ROOT / "out"
    assert "/out/" in (ROOT / ".gitignore").read_text().split()
