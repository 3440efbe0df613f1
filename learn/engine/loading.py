"""The learner's tokenizer and GPTModel, as a run saved them or trained now."""

from __future__ import annotations

import importlib

import torch

from learn.engine.common import SPECIAL, BadInput
from learn.engine.transfer import from_bytes, via_file
from learn.shared.protocol import emit


def load_tokenizer(saved: bytes | None):
    """The learner's BPETokenizer from its saved bytes, or GPT-2's (tiktoken) for None."""
    if saved is None:
        import tiktoken

        try:
            return tiktoken.get_encoding("gpt2")
        except Exception as e:  # no network and no cached files
            raise BadInput(f"GPT-2's tokenizer files could not be loaded ({type(e).__name__}): "
                           "connect once (tiktoken keeps them), or train with --tokenizer own") from None  # fmt: skip
    stage1 = importlib.import_module("stage1_tokenizer")
    try:
        return from_bytes(saved, stage1.BPETokenizer.load, ".json")
    except Exception as e:
        raise BadInput(f"the saved tokenizer cannot be read by your BPETokenizer.load ({type(e).__name__})") from None


def make_tokenizer(kind: str, vocab_size: int, train_text: str, saved: bytes | None):
    """(tokenizer, its bytes or None): GPT-2's, the learner's saved one, or theirs trained now."""
    if kind == "gpt2":
        return load_tokenizer(None), None
    if saved is not None:  # cached by the CLI, or the resumed run's
        return load_tokenizer(saved), saved
    emit("phase", message=f"training your BPE tokenizer (vocabulary {vocab_size:,}) on {len(train_text):,} characters")
    tok = importlib.import_module("stage1_tokenizer").BPETokenizer()
    try:
        tok.train(train_text, vocab_size, special_tokens=[SPECIAL])
    except ValueError as e:  # too few distinct pairs for that many merges
        raise BadInput(f"the text is too small for a vocabulary of {vocab_size:,} ({e}): give --vocab-size a smaller number") from None
    return tok, via_file(tok.save, ".json")


def load_model(checkpoint: str):
    """(the learner's GPTModel with a run's weights, in eval mode; its config), from the path of a
    run's checkpoint.pt (mapped, not read: only the weights are copied, not AdamW's moments)."""
    stage4 = importlib.import_module("stage4_model")
    try:
        state = torch.load(checkpoint, map_location="cpu", weights_only=True, mmap=True)
        model = stage4.GPTModel(state["config"])
        model.load_state_dict(state["model"])
    except Exception as e:
        raise BadInput(f"the checkpoint cannot be read ({type(e).__name__}): is it a learn pretrain run's checkpoint.pt?") from None
    return model.eval(), state["config"]
