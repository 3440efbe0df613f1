"""The learner's tokenizer and GPTModel, as a run saved them or trained now; how far the tokenizer's
training has come, and how long encoding a text will take, for learn pretrain's bar."""

from __future__ import annotations

import contextlib
import importlib
import threading
import time
from numbers import Integral

import torch

from learn.engine.calls import LearnerError, call, returned
from learn.engine.common import SPECIAL, BadInput
from learn.engine.transfer import from_bytes, via_file
from learn.shared.protocol import emit

POLL_SECONDS = 1.0  # between looks at the merges a training tokenizer has learned
SHORT_TEXT = 100_000  # characters: a text this short encodes at once, without an estimate
PREFIX_SHARE, PREFIX_CHARS = 64, 10_000  # the encoding estimate times a text's first 1/64, at least 10,000 characters


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
        with merges_progress(tok, vocab_size - 256 - 1):  # the merges asked for: not the bytes, nor the special token
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


@contextlib.contextmanager
def merges_progress(tok, total: int, every: float = POLL_SECONDS):
    """While the body trains `tok`, emit {"event": "merges", "done", "total"} each time the length of
    its `merges` has grown: a daemon thread looks every `every` seconds, and once more as the body
    ends. Only after a count between 0 and total has shown that it grows as train learns: code that
    assigns its merges at the end sends nothing. Nothing here raises into the body or changes `tok`.

    Example: a train that learns 300 merges in 3 s sends about (100, 300), (200, 300), (300, 300).
    """
    ended = threading.Event()

    def watch() -> None:
        sent, growing = 0, False
        while True:
            last = ended.wait(every)
            done = _merges_learned(tok)
            growing = growing or 0 < done < total
            if growing and sent < done <= total:
                try:
                    emit("merges", done=done, total=total)
                except Exception:  # noqa: BLE001 (the channel is closing: the probe's reply will say why)
                    return
                sent = done
            if last:
                return

    watcher = threading.Thread(target=watch, name="merges-progress", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        ended.set()
        watcher.join()  # its last event is sent before the probe sends anything else


def _merges_learned(tok) -> int:
    """len(tok.merges), read from the object's own attributes (so that no property or __getattr__
    of the learner's runs in the watching thread); 0 where that is not a dict or a list."""
    try:
        merges = vars(tok).get("merges")
        return len(merges) if isinstance(merges, (dict, list)) else 0
    except Exception:  # noqa: BLE001 (no __dict__, or anything else: nothing to show)
        return 0


def encoding_seconds(tok, text: str) -> float | None:
    """About how long encode(tok, text) takes: the time of its first 1/64 (at least PREFIX_CHARS,
    ended after a line end, so that no word is cut), times the text's length over the prefix's.
    None for a text under SHORT_TEXT, or where the prefix fails: the whole text's call says why.

    Example: 12,000 characters of a 1,000,000 encoded in 0.6 s -> 50.0 (seconds).
    """
    if len(text) < SHORT_TEXT:
        return None
    end = max(PREFIX_CHARS, len(text) // PREFIX_SHARE)
    end = text.rfind("\n", 0, end) + 1 or end
    tick = time.perf_counter()
    try:
        encode(tok, text[:end])
    except LearnerError:
        return None
    return (time.perf_counter() - tick) * len(text) / end


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
