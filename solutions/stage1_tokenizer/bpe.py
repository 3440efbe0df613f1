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
    # BEGIN SOLUTION: count each adjacent pair (ids[i], ids[i + 1]) and return {pair: count}
    counts: dict[tuple[int, int], int] = {}
    for pair in zip(ids, ids[1:]):
        counts[pair] = counts.get(pair, 0) + 1
    return counts
    # END SOLUTION


def merge(ids: list[int], pair: tuple[int, int], idx: int) -> list[int]:
    """Replace every occurrence of `pair`, scanning left to right, with the new id `idx`.

    Example: merge([1, 2, 3, 1, 2], (1, 2), 4) -> [4, 3, 4]
             merge([5, 5, 5], (5, 5), 6)       -> [6, 5]   (left to right, no overlaps)
    """
    # BEGIN SOLUTION: build a new list; where ids[i], ids[i + 1] == pair, emit idx and skip two
    out = []
    i = 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(idx)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out
    # END SOLUTION


def build_vocab(merges: dict[tuple[int, int], int], special_tokens: dict[str, int]) -> dict[int, bytes]:
    """The bytes of every token id: 256 single bytes, then each merge, then the special tokens.

    Example: build_vocab({(104, 105): 256}, {"<|endoftext|>": 257})
             -> {0: b"\\x00", ..., 104: b"h", 105: b"i", ..., 256: b"hi", 257: b"<|endoftext|>"}
    """
    # BEGIN SOLUTION: start from {i: bytes([i])}; merges in id order; specials as UTF-8 bytes
    vocab = {i: bytes([i]) for i in range(256)}
    for (a, b), idx in sorted(merges.items(), key=lambda item: item[1]):
        vocab[idx] = vocab[a] + vocab[b]
    for token, idx in special_tokens.items():
        vocab[idx] = token.encode("utf-8")
    return vocab
    # END SOLUTION


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
        # BEGIN SOLUTION: count chunks, then repeatedly merge the top pair (see the lesson, §3)
        num_merges = vocab_size - 256 - len(special_tokens)
        if num_merges < 0:
            raise ValueError(f"vocab_size {vocab_size} is below 256 bytes + {len(special_tokens)} special tokens")

        # 1. Pre-tokenize and count each distinct chunk once: a word seen 1,000 times is merged once.
        chunks: Counter[str] = Counter()
        for part in self._split_special(text, set(special_tokens)):
            if part not in special_tokens:
                chunks.update(self.compiled_pattern.findall(part))
        words = [list(chunk.encode("utf-8")) for chunk in chunks]
        freqs = list(chunks.values())

        # 2. Pair counts over all chunks, and which chunks hold each pair.
        stats: Counter[tuple[int, int]] = Counter()
        where: defaultdict[tuple[int, int], set[int]] = defaultdict(set)
        for w, ids in enumerate(words):
            for pair in zip(ids, ids[1:]):
                stats[pair] += freqs[w]
                where[pair].add(w)
        # A max-heap on (count, smallest pair): entries go stale as counts change; we skip those.
        heap = [(-count, pair) for pair, count in stats.items()]
        heapq.heapify(heap)

        # 3. Merge, updating only the chunks that hold the merged pair (no recount per merge). self.merges
        #    grows as it learns: learn pretrain's bar reads its length while train runs.
        self.merges = {}
        for i in range(num_merges):
            while heap and stats.get(heap[0][1], 0) != -heap[0][0]:
                heapq.heappop(heap)
            if not heap:
                raise ValueError(f"the text has only {i} distinct pairs to merge; vocab_size {vocab_size} needs {num_merges}")
            _, pair = heapq.heappop(heap)
            idx = 256 + i
            self.merges[pair] = idx
            for w in where.pop(pair):
                old = words[w]
                new = merge(old, pair, idx)
                if len(new) == len(old):
                    continue  # a stale entry: this chunk lost the pair to an earlier merge
                f = freqs[w]
                changed = set()
                for p in zip(old, old[1:]):
                    stats[p] -= f
                    changed.add(p)
                for p in zip(new, new[1:]):
                    stats[p] += f
                    where[p].add(w)
                    changed.add(p)
                words[w] = new
                for p in changed:
                    if stats[p] > 0:
                        heapq.heappush(heap, (-stats[p], p))
                    else:
                        del stats[p]

        self.special_tokens = {s: 256 + num_merges + k for k, s in enumerate(special_tokens)}
        self.vocab = build_vocab(self.merges, self.special_tokens)
        # END SOLUTION

    def _encode_chunk(self, data: bytes) -> list[int]:
        """Apply the merges to one chunk, always the one learned earliest first.

        Example (merges {(97, 97): 256, (256, 98): 257}): b"aab" -> [97, 97, 98] -> [256, 98] -> [257]
        """
        # BEGIN SOLUTION: while some adjacent pair is in merges, merge the one with the lowest id
        ids = list(data)
        while len(ids) >= 2:
            stats = get_stats(ids)
            pair = min(stats, key=lambda p: self.merges.get(p, float("inf")))
            if pair not in self.merges:
                break
            ids = merge(ids, pair, self.merges[pair])
        return ids
        # END SOLUTION

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
        # BEGIN SOLUTION: _split_special, then the split pattern, then _encode_chunk on UTF-8 bytes
        ids: list[int] = []
        for part in self._split_special(text, allowed):
            if part in allowed:
                ids.append(self.special_tokens[part])
                continue
            for chunk in self.compiled_pattern.findall(part):
                ids.extend(self._encode_chunk(chunk.encode("utf-8")))
        return ids
        # END SOLUTION

    def decode(self, ids: list[int]) -> str:
        """Token ids back to text; bytes that are not valid UTF-8 become U+FFFD, never an error.

        Example: decode([104, 105]) -> "hi";  decode([0xE2]) -> "\\ufffd"  (half a character)
        """
        # BEGIN SOLUTION: join the bytes of every id first, then decode UTF-8 once, errors="replace"
        return b"".join(self.vocab[i] for i in ids).decode("utf-8", errors="replace")
        # END SOLUTION

    def save(self, path: str | Path) -> None:
        """Write the pattern, the merges in order and the special tokens to a JSON file."""
        # BEGIN SOLUTION: JSON with "pattern", "merges" (list of [a, b], in id order), "special_tokens"
        data = {
            "pattern": self.pattern,
            "merges": [list(pair) for pair, _ in sorted(self.merges.items(), key=lambda item: item[1])],
            "special_tokens": self.special_tokens,
        }
        Path(path).write_text(json.dumps(data, indent=1), encoding="utf-8")
        # END SOLUTION

    @classmethod
    def load(cls, path: str | Path) -> "BPETokenizer":
        """A tokenizer that encodes exactly as the one that was saved to path."""
        # BEGIN SOLUTION: read the JSON; merge i gets id 256 + i; rebuild vocab with build_vocab
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        tok = cls(data["pattern"])
        tok.merges = {(a, b): 256 + i for i, (a, b) in enumerate(data["merges"])}
        tok.special_tokens = dict(data["special_tokens"])
        tok.vocab = build_vocab(tok.merges, tok.special_tokens)
        return tok
        # END SOLUTION
