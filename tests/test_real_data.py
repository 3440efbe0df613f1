"""Runs on the real data sets, only where a shared copy is set up: LEARN_DATA_DIR (and
TIKTOKEN_CACHE_DIR for GPT-2's tokenizer files). .ci/run sets both when ../shared/data exists;
elsewhere these tests are skipped and nothing is downloaded."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from learn import ROOT

pytestmark = pytest.mark.skipif(not os.environ.get("LEARN_DATA_DIR"), reason="LEARN_DATA_DIR is not set")


def run_with_solutions(code: str) -> str:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "solutions"), str(ROOT)]))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_reference_bpe_on_tiny_shakespeare_agrees_with_tiktoken():
    out = run_with_solutions(
        "from learn.data import fetch; from learn.shared.checking import as_tiktoken\n"
        "from stage1_tokenizer import BPETokenizer\n"
        "text = fetch('tinyshakespeare.txt', progress=False).read_text()\n"
        "tok = BPETokenizer(); tok.train(text, 4096, ['<|endoftext|>'])\n"
        "sample = text[-50000:]\n"
        "merges = [list(p) for p, _ in sorted(tok.merges.items(), key=lambda kv: kv[1])]\n"
        "assert tok.encode(sample) == as_tiktoken(tok.pattern, merges, tok.special_tokens).encode_ordinary(sample)\n"
        "assert tok.decode(tok.encode(sample)) == sample\n"
        "print(len(tok.vocab))\n"
    )
    assert out.split() == ["4096"]


@pytest.mark.skipif(not os.environ.get("TIKTOKEN_CACHE_DIR"), reason="GPT-2's tokenizer files are not cached")
def test_reference_loader_on_the_verdict_matches_the_book():
    out = run_with_solutions(
        "from learn.data import fetch\n"
        "from stage2_data import create_dataloader_v1\n"
        "text = fetch('the-verdict.txt', progress=False).read_text()\n"
        "loader = create_dataloader_v1(text, batch_size=8, max_length=4, stride=4, shuffle=False)\n"
        "inputs, targets = next(iter(loader))\n"
        "print(inputs[0].tolist(), targets[0].tolist(), len(loader.dataset))\n"
    )
    # The book's chapter 2: 5,145 GPT-2 tokens; the first window is "I HAD always" ...
    assert out.strip() == "[40, 367, 2885, 1464] [367, 2885, 1464, 1807] 1286"
