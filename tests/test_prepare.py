"""Data worth a GPU: `learn prepare` writes token files (the learner's tokenizer or GPT-2's) whose
ids are those of the whole text, and `learn pretrain --data` trains on a token file (memory-mapped)
or a folder of text files; a token file that does not match what lies beside it is one line."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from learn import ROOT, cli
from learn.cli import prepare as command
from learn.cli.datafiles import read_folder
from learn.engine.corpus import TokenWindows

pytestmark = pytest.mark.xdist_group("prepare")  # one test worker runs them all: they share `corpus`
runner = CliRunner()


def learn(*args):
    return runner.invoke(cli.app, [str(a) for a in args])


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A folder of two texts of made-up words on lines, some indented (where cutting is delicate)."""
    rng = random.Random(1)
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 7))) for _ in range(200)]
    folder = tmp_path_factory.mktemp("corpus")
    for name, n in (("a.txt", 3000), ("b.txt", 1500)):
        lines = [" ".join(rng.choice(words) for _ in range(8)) for _ in range(n // 8)]
        (folder / name).write_text("\n".join(("  " if i % 5 == 0 else "") + line for i, line in enumerate(lines)) + "\n")
    return folder


def ids(path) -> list[int]:
    return np.fromfile(path, dtype="<u2").tolist()


def test_token_windows_are_the_windows_of_gpt_dataset_v1():
    windows = TokenWindows(np.arange(10, 20, dtype=np.uint16), max_length=4, stride=2)
    assert len(windows) == 3  # as GPTDatasetV1's docstring example: a window at 6 would need id 20
    x, y = windows[1]
    assert x.tolist() == [12, 13, 14, 15] and y.tolist() == [13, 14, 15, 16] and x.dtype == torch.int64
    with pytest.raises(IndexError):
        windows[3]


def test_a_folder_reads_as_one_text_with_end_of_text_between_files(corpus):
    assert read_folder(corpus) == (corpus / "a.txt").read_text() + "<|endoftext|>" + (corpus / "b.txt").read_text()


def test_prepare_with_your_tokenizer_then_pretrain_on_the_token_file(corpus, tmp_path, monkeypatch):
    monkeypatch.setattr(command, "PIECE", 500)  # many pieces: their ids must be those of the whole text
    out = tmp_path / "corpus.bin"
    result = learn("prepare", corpus, "--impl", "solutions", "--vocab-size", 300, "--out", out)
    assert result.exit_code == 0, result.output
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["tokenizer"] == "own" and meta["vocab_size"] == 300 and meta["tokens"] == len(ids(out))

    import sys

    sys.path.insert(0, str(ROOT / "solutions"))
    try:
        from stage1_tokenizer import BPETokenizer

        tok = BPETokenizer.load(out.with_suffix(".tokenizer.json"))
    finally:
        sys.path.remove(str(ROOT / "solutions"))
    assert ids(out) == tok.encode(read_folder(corpus), allowed_special={"<|endoftext|>"})

    run = tmp_path / "run"
    result = learn("pretrain", "--impl", "solutions", "--data", out, "--model", "tiny", "--max-steps", 2, "--run", run, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads((run / "summary.json").read_text())
    assert summary["tokenizer"] == "own" and summary["config"]["vocab_size"] == 300 and 0 < summary["val_bpb"] < 20
    assert (run / "tokenizer.json").read_bytes() == out.with_suffix(".tokenizer.json").read_bytes()

    result = learn("pretrain", "--impl", "solutions", "--data", corpus, "--model", "tiny", "--vocab-size", 300, "--max-steps", 1,
                   "--run", tmp_path / "folder", "--json")  # fmt: skip
    assert result.exit_code == 0, result.output


def test_prepare_with_gpt2s_tokenizer(corpus, tmp_path, monkeypatch):
    tiktoken = pytest.importorskip("tiktoken")
    try:
        enc = tiktoken.get_encoding("gpt2")
    except Exception:  # noqa: BLE001 (no network, no cached files)
        pytest.skip("GPT-2's tokenizer files are not at hand")
    monkeypatch.setattr(command, "PIECE", 700)
    out = tmp_path / "gpt2.bin"
    result = learn("prepare", corpus, "--tokenizer", "gpt2", "--out", out)
    assert result.exit_code == 0, result.output
    assert ids(out) == enc.encode(read_folder(corpus), allowed_special={"<|endoftext|>"})
    assert json.loads(out.with_suffix(".json").read_text())["eot"] == enc.eot_token
    result = learn("pretrain", "--impl", "solutions", "--data", out, "--tokenizer", "own", "--max-steps", 1, "--run", tmp_path / "r")
    assert result.exit_code == 2 and "tokenized by gpt2" in result.output


def test_a_token_file_that_does_not_match_is_one_line(corpus, tmp_path):
    out = tmp_path / "t.bin"
    out.write_bytes(np.arange(100, dtype="<u2").tobytes())

    def said():
        result = learn("pretrain", "--impl", "solutions", "--data", out, "--max-steps", 1, "--run", tmp_path / "run")
        assert result.exit_code == 2 and "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
        return result.output

    assert "learn prepare" in said()  # no t.json
    meta = {"format": "learn tokens 1", "tokens": 99, "tokenizer": "gpt2", "vocab_size": 50257, "eot": 50256, "sha256": "x"}
    out.with_suffix(".json").write_text(json.dumps(meta))
    assert "incomplete or changed" in said()
    out.with_suffix(".json").write_text(json.dumps({**meta, "tokens": 100, "tokenizer": "own"}))
    assert "t.tokenizer.json is missing" in said()
    result = learn("prepare", tmp_path / "nothing", "--out", out)
    assert result.exit_code == 2 and "no such file" in result.output
