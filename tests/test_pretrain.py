"""`learn pretrain` and `learn generate` on solutions/ (stages 1-5): a few steps of the tiny preset
on a tiny text write a complete run folder, resume and generate from it; bad input is one line and
a non-zero exit. No network: the data are files in tmp_path."""

from __future__ import annotations

import json
import random
import shutil

import pytest
from typer.testing import CliRunner

from learn import ROOT, cli

runner = CliRunner()
KEYS = {"val_loss", "val_ppl", "val_bpb", "train_loss", "tokens_per_second", "steps", "tokens_seen", "seconds",
        "parameters", "config", "data", "tokenizer"}  # fmt: skip


def learn(*args):
    return runner.invoke(cli.app, [str(a) for a in args])


@pytest.fixture(scope="module")
def text_file(tmp_path_factory):
    """About 20 kB of made-up words: enough pairs for a 300-token BPE and a few batches."""
    rng = random.Random(0)
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 7))) for _ in range(200)]
    path = tmp_path_factory.mktemp("data") / "words.txt"
    path.write_text(" ".join(rng.choice(words) for _ in range(4000)), encoding="utf-8")
    return path


def pretrain(data, run, *more):
    return learn("pretrain", "--impl", "solutions", "--data", data, "--max-steps", 4, "--vocab-size", 300, "--run", run, "--json", *more)


def test_run_folder_resume_and_generate(text_file, tmp_path):
    run = tmp_path / "run"
    result = pretrain(text_file, run)
    assert result.exit_code == 0, result.output
    summary = json.loads((run / "summary.json").read_text())
    assert set(summary) == KEYS
    assert summary["steps"] == 4 and summary["tokenizer"] == "own" and summary["config"]["vocab_size"] == 300
    assert 0 < summary["val_bpb"] < 20 and summary["val_ppl"] > 1
    assert (run / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (run / "samples.txt").read_text() and (run / "tokenizer.json").is_file()

    result = learn("pretrain", "--impl", "solutions", "--data", text_file, "--max-steps", 6, "--run", run, "--resume", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads((run / "summary.json").read_text())["steps"] == 6  # 4 done before, 2 more

    result = learn("generate", "ab", "--impl", "solutions", "--run", run, "--max-new-tokens", 5, "--temperature", 0)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("ab")


@pytest.mark.parametrize(
    ("content", "said"),
    [(None, "no such file"), (b"", "empty"), (b"\xff\xfe\x00bad", "not UTF-8"), ("short text " * 30, "too")],
)
def test_bad_data_is_one_line(tmp_path, content, said):
    path = tmp_path / "data.txt"
    if content is not None:
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    result = pretrain(path, tmp_path / "run", "--vocab-size", 257)
    assert result.exit_code != 0
    assert said in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_bad_settings_and_trees(text_file, tmp_path):
    result = learn("pretrain", "--impl", "solutions", "--data", text_file, "--model", "huge")
    assert result.exit_code == 2 and "unknown preset" in result.output
    tree = tmp_path / "tree"
    for package in ("stage1_tokenizer", "stage2_data", "stage3_attention", "stage4_model"):
        shutil.copytree(ROOT / "solutions" / package, tree / package)
    result = learn("pretrain", "--impl", tree, "--data", text_file)
    assert result.exit_code == 2 and "stage5_pretrain" in result.output
    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoint.pt").write_bytes(b"not a checkpoint")
    result = learn("generate", "ab", "--impl", "solutions", "--run", run)
    assert result.exit_code == 1 and "checkpoint cannot be read" in result.output and "Traceback" not in result.output
