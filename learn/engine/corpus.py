"""Token files: `learn pretrain --data X.bin` reads them, `learn prepare` writes them (with the
learner's tokenizer through the probes below, or GPT-2's).

A token file is what nanoGPT's prepare.py writes: the token ids of a corpus, one after another, as
little-endian uint16 (so a vocabulary of at most 65,536), documents separated by the end-of-text
token. Training reads it through a numpy memmap, one window at a time (`TokenWindows`), so a
file of hundreds of MB never has to fit in memory. learn/cli/prepare.py says what lies beside it.

The file reaches the worker as an open file descriptor that the CLI passes (the worker may run as a
user who could not open the path itself); the last tenth of its tokens validate (at most
VAL_TOKENS), the rest trains, as the last tenth of a text does.
"""

from __future__ import annotations

import os

import numpy as np
import torch

from learn.engine.common import BadInput
from learn.engine.loading import encode, end_of_text, load_tokenizer, make_tokenizer

VAL_TOKENS = 2**22  # at most this many tokens validate: every evaluation reads all of them at the end


class TokenWindows:
    """GPTDatasetV1's windows over ids that are already tokens: window i holds
    ids[i * stride : i * stride + max_length], its targets the same moved one token right.

    Example (ids 10, 11, ..., 19, max_length=4, stride=2): 3 windows, as GPTDatasetV1 makes of a
    text with those ids; window 1 is (tensor([12, 13, 14, 15]), tensor([13, 14, 15, 16])).
    """

    def __init__(self, ids, max_length: int, stride: int):
        self.ids, self.max_length, self.stride = ids, max_length, stride

    def __len__(self) -> int:
        return 0 if len(self.ids) <= self.max_length else (len(self.ids) - self.max_length - 1) // self.stride + 1

    def __getitem__(self, i: int):
        if not 0 <= i < len(self):
            raise IndexError(i)
        start = i * self.stride
        chunk = torch.from_numpy(self.ids[start : start + self.max_length + 1].astype(np.int64))  # (max_length + 1,)
        return chunk[:-1], chunk[1:]  # (max_length,) each


def windows(tokens: dict, max_length: int) -> tuple[TokenWindows, TokenWindows]:
    """(train, validation) windows of a token file, {"fd": an open descriptor of it}: memory-mapped,
    never read whole. The validation part is the last tenth of the tokens, at most VAL_TOKENS."""
    with os.fdopen(os.dup(tokens["fd"]), "rb") as f:
        ids = np.memmap(f, dtype="<u2", mode="r")  # the mapping outlives the file object
    val = min(len(ids) // 10, VAL_TOKENS)
    return TokenWindows(ids[: len(ids) - val], max_length, max_length), TokenWindows(ids[len(ids) - val :], max_length, max_length)


def probe_train_tokenizer(learner, text: str, vocab_size: int) -> dict:
    """The learner's BPETokenizer trained on `text` (with the end-of-text token): its saved bytes,
    its size and the id of the end-of-text token."""
    tok, saved = make_tokenizer("own", vocab_size, text, None)
    return {"tokenizer": saved, "vocab_size": len(tok.vocab), "eot": end_of_text(tok)}


def probe_encode(learner, tokenizer: bytes, texts: list) -> bytes:
    """The ids of each text in turn, by the learner's saved tokenizer, as little-endian uint16 bytes."""
    tok = load_tokenizer(tokenizer)
    ids = [i for text in texts for i in encode(tok, text)]
    if ids and not 0 <= min(ids) <= max(ids) < 2**16:
        raise BadInput(f"your tokenizer gave the id {max(ids)}, and a token file holds ids below 65,536: a smaller --vocab-size")
    return np.asarray(ids, dtype="<u2").tobytes()
