"""Stage 1 the way the book's bonus notebook (ch02/05_bpe-from-scratch, BPETokenizerSimple) writes
BPE: find_freq_pair and replace_pair, merges in `bpe_merges`, an `inverse_vocab`. The project's
tokenizer is byte-level (ids 0..255 are bytes, vocab maps ids to bytes) where the notebook's maps
ids to characters with "Ġ" for a space, so those parts follow the lesson."""

from __future__ import annotations

import json
from collections import Counter, deque
from pathlib import Path

import regex

GPT2_SPLIT_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""


def get_stats(ids):
    """Count adjacent pairs: get_stats([1, 2, 3, 1, 2]) -> {(1, 2): 2, (2, 3): 1, (3, 1): 1}"""
    return dict(Counter(zip(ids, ids[1:])))


def merge(ids, pair, idx):
    """The notebook's replace_pair: merge([1, 2, 3, 1, 2], (1, 2), 4) -> [4, 3, 4]"""
    dq = deque(ids)
    replaced = []
    while dq:
        current = dq.popleft()
        if dq and (current, dq[0]) == pair:
            replaced.append(idx)
            dq.popleft()  # remove the second token of the pair
        else:
            replaced.append(current)
    return replaced


def build_vocab(merges, special_tokens):
    """{id: bytes}: build_vocab({(104, 105): 256}, {}) -> {..., 256: b"hi"}"""
    vocab = {i: bytes([i]) for i in range(256)}
    for (p0, p1), new_id in sorted(merges.items(), key=lambda kv: kv[1]):
        vocab[new_id] = vocab[p0] + vocab[p1]
    for token, token_id in special_tokens.items():
        vocab[token_id] = token.encode("utf-8")
    return vocab


class BPETokenizer:
    """Train, encode, decode, save and load, as BPETokenizerSimple does."""

    def __init__(self, pattern=GPT2_SPLIT_PATTERN):
        self.pattern = pattern
        self.merges = {}  # the notebook's bpe_merges: {(p0, p1): new_id}
        self.special_tokens = {}
        self.vocab = build_vocab({}, {})
        self.inverse_vocab = {}

    @staticmethod
    def find_freq_pair(words, mode="most"):
        """The most frequent pair over {chunk ids: count}; ties to the smallest pair (the notebook's max
        takes the first seen). Example: {(1, 2, 1, 2): 1} -> (1, 2)"""
        pairs = Counter()
        for ids, count in words.items():
            for pair in zip(ids, ids[1:]):
                pairs[pair] += count
        if not pairs:
            return None
        best = max(pairs.values()) if mode == "most" else min(pairs.values())
        return min(p for p, c in pairs.items() if c == best)

    def train(self, text, vocab_size, special_tokens=None):
        """Learn vocab_size - 256 - len(special_tokens) merges: train("aaab", 257) -> {(97, 97): 256}"""
        special_tokens = list(special_tokens or [])
        num_merges = vocab_size - 256 - len(special_tokens)
        if num_merges < 0:
            raise ValueError(f"vocab_size {vocab_size} is too small for 256 bytes and the special tokens")
        # The notebook merges over one list of the whole text; the lesson counts each chunk once.
        chunks = Counter()
        special = "(" + "|".join(regex.escape(s) for s in sorted(special_tokens, key=len, reverse=True)) + ")"
        parts = regex.split(special, text) if special_tokens else [text]
        for part in parts:
            if part not in special_tokens:
                chunks.update(regex.findall(self.pattern, part))
        words = Counter()
        for chunk, count in chunks.items():
            words[tuple(chunk.encode("utf-8"))] += count
        self.merges = {}
        for new_id in range(256, 256 + num_merges):
            pair_id = self.find_freq_pair(words, mode="most")
            if pair_id is None:
                raise ValueError(f"the text has too few pairs for vocab_size {vocab_size}")
            self.merges[pair_id] = new_id
            merged = Counter()
            for ids, count in words.items():
                merged[tuple(merge(list(ids), pair_id, new_id))] += count
            words = merged
        self.special_tokens = {s: 256 + num_merges + i for i, s in enumerate(special_tokens)}
        self.vocab = build_vocab(self.merges, self.special_tokens)
        self.inverse_vocab = {token: token_id for token_id, token in self.vocab.items()}

    def tokenize_with_bpe(self, token):
        """One chunk's bytes, merged earliest merge first: b"aab" with {(97, 97): 256} -> [256, 98]"""
        token_ids = list(token)
        while len(token_ids) >= 2:
            pairs = set(zip(token_ids, token_ids[1:]))
            pair = min(pairs, key=lambda p: self.merges.get(p, float("inf")))
            if pair not in self.merges:
                break
            token_ids = merge(token_ids, pair, self.merges[pair])
        return token_ids

    def encode(self, text, allowed_special="all"):
        """Text to ids, allowed special tokens kept whole: "hi<|endoftext|>" -> [..., 300]"""
        if allowed_special == "all":
            allowed = set(self.special_tokens)
        elif allowed_special == "none":
            allowed = set()
        else:
            allowed = set(allowed_special) & set(self.special_tokens)
        token_ids = []
        special = "(" + "|".join(regex.escape(s) for s in sorted(allowed, key=len, reverse=True)) + ")"
        for part in regex.split(special, text) if allowed else [text]:
            if part in allowed:
                token_ids.append(self.special_tokens[part])
            elif part:
                for chunk in regex.findall(self.pattern, part):
                    token_ids.extend(self.tokenize_with_bpe(chunk.encode("utf-8")))
        return token_ids

    def decode(self, token_ids):
        """Ids to text, broken UTF-8 as U+FFFD: decode([104, 105]) -> "hi" """
        return b"".join(self.vocab[token_id] for token_id in token_ids).decode("utf-8", errors="replace")

    def save(self, path):
        """The notebook's save_vocab_and_merges, in one JSON file."""
        merges = [list(pair) for pair, _ in sorted(self.merges.items(), key=lambda kv: kv[1])]
        with open(path, "w", encoding="utf-8") as file:
            json.dump({"pattern": self.pattern, "merges": merges, "special_tokens": self.special_tokens}, file)

    @classmethod
    def load(cls, path):
        """The notebook's load_vocab_and_merges: a tokenizer that encodes as the saved one."""
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        tokenizer = cls(data["pattern"])
        tokenizer.merges = {(p0, p1): 256 + i for i, (p0, p1) in enumerate(data["merges"])}
        tokenizer.special_tokens = dict(data["special_tokens"])
        tokenizer.vocab = build_vocab(tokenizer.merges, tokenizer.special_tokens)
        tokenizer.inverse_vocab = {token: token_id for token_id, token in tokenizer.vocab.items()}
        return tokenizer
