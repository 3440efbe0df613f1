"""A byte-level BPE tokenizer, trained the way GPT-2's was.

Token ids 0..255 are the 256 single bytes (id == byte value). Merge number i creates id 256 + i.
Special tokens such as <|endoftext|> take the last ids and are never produced by a merge.
"""

from __future__ import annotations

import heapq
import json
from collections import Counter, defaultdict
from pathlib import Path

import regex

# GPT-2's pre-tokenization: text is cut into chunks (words with their leading space, runs of
# digits, runs of punctuation, runs of whitespace) and BPE never merges across two chunks.
GPT2_SPLIT_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""


def get_stats(ids: list[int]) -> dict[tuple[int, int], int]:
    """Count every adjacent pair of ids.

    Example: get_stats([1, 2, 3, 1, 2]) -> {(1, 2): 2, (2, 3): 1, (3, 1): 1}
    """
    # TODO: count each adjacent pair (ids[i], ids[i + 1]) and return {pair: count}
    raise NotImplementedError('count each adjacent pair (ids[i], ids[i + 1]) and return {pair: count}')


def merge(ids: list[int], pair: tuple[int, int], idx: int) -> list[int]:
    """Replace every occurrence of `pair`, scanning left to right, with the new id `idx`.

    Example: merge([1, 2, 3, 1, 2], (1, 2), 4) -> [4, 3, 4]
             merge([5, 5, 5], (5, 5), 6)       -> [6, 5]   (left to right, no overlaps)
    """
    # TODO: build a new list; where ids[i], ids[i + 1] == pair, emit idx and skip two
    raise NotImplementedError('build a new list; where ids[i], ids[i + 1] == pair, emit idx and skip two')


def build_vocab(merges: dict[tuple[int, int], int], special_tokens: dict[str, int]) -> dict[int, bytes]:
    """The bytes of every token id: 256 single bytes, then each merge, then the special tokens.

    Example: build_vocab({(104, 105): 256}, {"<|endoftext|>": 257})
             -> {0: b"\\x00", ..., 104: b"h", 105: b"i", ..., 256: b"hi", 257: b"<|endoftext|>"}
    """
    # TODO: start from {i: bytes([i])}; merges in id order; specials as UTF-8 bytes
    raise NotImplementedError('start from {i: bytes([i])}; merges in id order; specials as UTF-8 bytes')


class BPETokenizer:
    """Train, encode, decode, save and load.

    Attributes a trained tokenizer has (the checks read them):
        merges: {(id_a, id_b): new_id}, new ids 256, 257, ... in the order they were learned
        special_tokens: {"<|endoftext|>": id}, ids after the last merge
        vocab: {id: bytes}, as build_vocab makes it
        pattern: the pre-tokenization regex
    """

    def __init__(self, pattern: str = GPT2_SPLIT_PATTERN):
        self.pattern = pattern
        self.compiled_pattern = regex.compile(pattern)
        self.merges: dict[tuple[int, int], int] = {}
        self.special_tokens: dict[str, int] = {}
        self.vocab: dict[int, bytes] = build_vocab({}, {})

    def _split_special(self, text: str, allowed: set[str] | None = None) -> list[str]:
        """Cut text around the special tokens in `allowed` (default: self.special_tokens), keeping
        each as a piece of its own.

        Example (special token <|endoftext|>): "hi<|endoftext|>yo" -> ["hi", "<|endoftext|>", "yo"]

        Pitfall: while train() runs, self.special_tokens still holds the *old* tokens (none, for a
        new tokenizer), so the default cuts nothing. In train, pass the new ones:
        self._split_special(text, set(special_tokens)).
        """
        allowed = set(self.special_tokens) if allowed is None else allowed
        if not allowed:
            return [text]
        # Longest first, so that a special token that starts another one cannot win by accident.
        alternatives = sorted(allowed, key=len, reverse=True)
        special = "(" + "|".join(regex.escape(s) for s in alternatives) + ")"
        return [part for part in regex.split(special, text) if part]

    def train(self, text: str, vocab_size: int, special_tokens: list[str] | None = None) -> None:
        """Learn vocab_size - 256 - len(special_tokens) merges from text.

        Each step merges the most frequent adjacent pair; ties go to the smallest pair
        (compare the first ids, then the second). Pairs never span two pre-tokenized chunks,
        and special tokens are cut out of the text before counting.

        Example: train("aaab", 257) learns one merge: {(97, 97): 256}  ("aa" is the top pair)
        """
        special_tokens = list(special_tokens or [])
        # TODO: count chunks, then repeatedly merge the top pair (see the lesson, §3)
        raise NotImplementedError('count chunks, then repeatedly merge the top pair (see the lesson, §3)')

    def _encode_chunk(self, data: bytes) -> list[int]:
        """Apply the merges to one chunk, always the one learned earliest first.

        Example (merges {(97, 97): 256, (256, 98): 257}): b"aab" -> [97, 97, 98] -> [256, 98] -> [257]
        """
        # TODO: while some adjacent pair is in merges, merge the one with the lowest id
        raise NotImplementedError('while some adjacent pair is in merges, merge the one with the lowest id')

    def encode(self, text: str, allowed_special: str | set[str] = "all") -> list[int]:
        """Text to token ids: allowed special tokens become their one id; the rest is split and merged.

        allowed_special is "all", "none" or a set of special tokens, as in tiktoken, so that the
        book's data loader can call encode(txt, allowed_special={"<|endoftext|>"}); a special token
        that is not allowed is encoded as ordinary text.

        Example (trained with special token <|endoftext|> = 300): "hi<|endoftext|>" -> [..., 300]
        """
        if allowed_special == "all":
            allowed = set(self.special_tokens)
        elif allowed_special == "none":
            allowed = set()
        else:
            allowed = set(allowed_special) & set(self.special_tokens)
        # TODO: _split_special, then the split pattern, then _encode_chunk on UTF-8 bytes
        raise NotImplementedError('_split_special, then the split pattern, then _encode_chunk on UTF-8 bytes')

    def decode(self, ids: list[int]) -> str:
        """Token ids back to text; bytes that are not valid UTF-8 become U+FFFD, never an error.

        Example: decode([104, 105]) -> "hi";  decode([0xE2]) -> "\\ufffd"  (half a character)
        """
        # TODO: join the bytes of every id first, then decode UTF-8 once, errors="replace"
        raise NotImplementedError('join the bytes of every id first, then decode UTF-8 once, errors="replace"')

    def save(self, path: str | Path) -> None:
        """Write the pattern, the merges in order and the special tokens to a JSON file."""
        # TODO: JSON with "pattern", "merges" (list of [a, b], in id order), "special_tokens"
        raise NotImplementedError('JSON with "pattern", "merges" (list of [a, b], in id order), "special_tokens"')

    @classmethod
    def load(cls, path: str | Path) -> "BPETokenizer":
        """A tokenizer that encodes exactly as the one that was saved to path."""
        # TODO: read the JSON; merge i gets id 256 + i; rebuild vocab with build_vocab
        raise NotImplementedError('read the JSON; merge i gets id 256 + i; rebuild vocab with build_vocab')
