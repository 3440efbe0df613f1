"""Every command that runs a learner's code runs on code other than ours: on the reference with
every stage variant (tests/variants) and on each stage written the way the book writes it
(tests/book). A passing stage must also train, draw and fine-tune: a tiny `learn pretrain` run
per tree, shared by generate, show attention, finetune classify, classify and finetune instruct,
and `learn prepare`, each on a few KB of made-up data. No network: every file is in tmp_path."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from conftest import BOOK, PRETRAIN_KEYS, PRETRAIN_TIME, VARIANTS, finetune_files, overlaid
from learn import cli

pytestmark = pytest.mark.xdist_group("e2e")  # one test worker runs them all: they share `tree`
runner = CliRunner()
PNG = b"\x89PNG\r\n\x1a\n"
TREES = {"variants": VARIANTS, "book": BOOK}


def learn(*args):
    return runner.invoke(cli.app, [str(a) for a in args])


def ok(result):
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module", params=TREES)
def tree(request, tmp_path_factory):
    """(tree, files): the overlaid tree and a tiny pretraining run of it with its data (finetune_files)."""
    where = tmp_path_factory.mktemp(request.param)
    tree = overlaid(where / "tree", TREES[request.param])
    return tree, finetune_files(where, tree, "--n-layers", 2, "--emb-dim", 32)  # small: seconds, not minutes


def test_pretrain_writes_its_summary(tree):
    _, files = tree
    summary = json.loads((files / "pretrained" / "summary.json").read_text())
    assert set(summary) == PRETRAIN_KEYS and set(summary["time"]) == PRETRAIN_TIME and summary["steps"] == 2
    assert 0 < summary["val_bpb"] < 20 and summary["config"]["vocab_size"] == 300
    assert (files / "pretrained" / "samples.txt").read_text()
    assert (files / "pretrained" / "loss.png").read_bytes()[:8] == PNG


def test_generate_and_show_attention(tree, tmp_path):
    impl, files = tree
    said = ok(learn("generate", "ab", "--impl", impl, "--run", files / "pretrained", "--max-new-tokens", 5))
    assert said.stdout.startswith("ab")
    png = tmp_path / "attention.png"
    said = ok(learn("show", "attention", "ab cd ef", "--impl", impl, "--run", files / "pretrained", "--layer", 0,
                    "--out", png))  # fmt: skip
    assert png.read_bytes()[:8] == PNG and "4 heads" in " ".join(said.output.split())


def test_prepare(tree, tmp_path):
    impl, files = tree
    out = tmp_path / "corpus.bin"
    ok(learn("prepare", files / "words.txt", "--impl", impl, "--vocab-size", 300, "--out", out))
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["tokenizer"] == "own" and meta["vocab_size"] == 300 and meta["tokens"] * 2 == out.stat().st_size


def test_finetune_classify_then_classify(tree, tmp_path):
    impl, files = tree
    run = tmp_path / "classifier"
    ok(learn("finetune", "classify", "--impl", impl, "--init", files / "pretrained", "--data", files / "spam.tsv",
             "--epochs", 1, "--lora", 2, "--run", run, "--json"))  # fmt: skip
    summary = json.loads((run / "summary.json").read_text())
    assert summary["split"] == {"train": 42, "validation": 6, "test": 12} and summary["steps"] == 5
    assert all(0 <= summary[f"{k}_accuracy"] <= 1 for k in ("train", "val", "test"))
    assert sum(n for row in summary["confusion_matrix"].values() for n in row.values()) == 12
    assert ok(learn("classify", "win cash now", "--impl", impl, "--run", run)).stdout.strip() in ("spam", "not spam")


def test_finetune_instruct(tree, tmp_path):
    impl, files = tree
    run = tmp_path / "instruct"
    ok(learn("finetune", "instruct", "--impl", impl, "--init", files / "pretrained", "--data",
             files / "instructions.json", "--tasks", 0, "--eval-tasks", 2, "--epochs", 1, "--max-new-tokens", 2,
             "--mask-prompt", "--run", run, "--json"))  # fmt: skip
    summary = json.loads((run / "summary.json").read_text())
    assert summary["split"] == {"train": 25, "test": 3, "validation": 2}
    assert summary["steps"] == 25 // 8
    assert summary["val_loss"] > 0 and 0 <= summary["exact_match_after"] <= 1
    responses = json.loads((run / "instruction-data-with-response.json").read_text())
    assert responses and all(isinstance(r["model_response"], str) for r in responses)
