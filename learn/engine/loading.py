"""The learner's tokenizer and GPTModel, as a run saved them or trained now."""

from __future__ import annotations

import importlib
from numbers import Integral

import torch

from learn.engine.calls import LearnerError, call, returned
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
    return from_bytes(saved, lambda path: call(stage1.BPETokenizer.load, path), ".json")


def make_tokenizer(kind: str, vocab_size: int, train_text: str, saved: bytes | None):
    """(tokenizer, its bytes or None): GPT-2's, the learner's saved one, or theirs trained now."""
    if kind == "gpt2":
        return load_tokenizer(None), None
    if saved is not None:  # cached by the CLI, or the resumed run's
        return load_tokenizer(saved), saved
    emit("phase", message=f"training your BPE tokenizer (vocabulary {vocab_size:,}) on {len(train_text):,} characters")
    tok = call(importlib.import_module("stage1_tokenizer").BPETokenizer)
    try:
        call(tok.train, train_text, vocab_size, special_tokens=[SPECIAL])
    except LearnerError as e:
        if isinstance(e.raised, ValueError):  # too few distinct pairs for that many merges, as the lesson's train says
            raise BadInput(f"the text is too small for a vocabulary of {vocab_size:,} ({e.raised}): "
                           "give --vocab-size a smaller number") from None  # fmt: skip
        raise
    return tok, via_file(lambda path: call(tok.save, path), ".json")


def encode(tok, text: str) -> list[int]:
    """The tokenizer's ids of `text`, <|endoftext|> as its special token: a list of ints, or a LearnerError."""
    ids = call(tok.encode, text, allowed_special={SPECIAL})
    if not isinstance(ids, (list, tuple)) or not all(type(i) is int or isinstance(i, Integral) for i in ids):
        raise returned(tok.encode, ids, "a list of int token ids")
    return list(ids)


def end_of_text(tok) -> int:
    """The tokenizer's <|endoftext|> id: 50256 for GPT-2's, your tokenizer's own for yours."""
    ids = encode(tok, SPECIAL)
    if len(ids) != 1:
        raise BadInput(f"your tokenizer encodes {SPECIAL} as {ids[:8]}, not as one special token of its own: "
                       "learn prepare and learn pretrain train it with one")  # fmt: skip
    return ids[0]


def load_model(checkpoint: str):
    """(the learner's GPTModel with a run's weights, in eval mode; its config), from the path of a
    run's checkpoint.pt (mapped, not read: only the weights are copied, not AdamW's moments)."""
    stage4 = importlib.import_module("stage4_model")
    try:
        state = torch.load(checkpoint, map_location="cpu", weights_only=True, mmap=True)
        config, weights = state["config"], state["model"]
    except Exception as e:
        raise BadInput(f"the checkpoint cannot be read ({type(e).__name__}): is it a learn pretrain run's checkpoint.pt?") from None
    model = call(stage4.GPTModel, config)
    try:
        model.load_state_dict(weights)
    except Exception as e:  # the GPTModel of today is not the run's: its names or shapes changed
        raise BadInput(f"the checkpoint's weights do not fit your GPTModel ({type(e).__name__}): was it saved by another version?") from None
    return model.eval(), config
