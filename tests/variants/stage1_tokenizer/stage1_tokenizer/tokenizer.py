import collections
import re as std_re

import regex

GPT2_SPLIT_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""


def get_stats(ids):
    return collections.Counter(zip(ids[:-1], ids[1:]))


def merge(ids, pair, idx):
    result, skip = [], False
    for i, t in enumerate(ids):
        if skip:
            skip = False
        elif i < len(ids) - 1 and (t, ids[i + 1]) == pair:
            result.append(idx)
            skip = True
        else:
            result.append(t)
    return result


def build_vocab(merges, special_tokens):
    vocab = dict(enumerate(bytes([b]) for b in range(256)))
    for pair, idx in sorted(merges.items(), key=lambda kv: kv[1]):
        vocab[idx] = b"".join(vocab[t] for t in pair)
    vocab.update((idx, tok.encode()) for tok, idx in special_tokens.items())
    return vocab


class BPETokenizer:
    def __init__(self, pattern=GPT2_SPLIT_PATTERN):
        self.pattern = pattern
        self.merges, self.special_tokens = {}, {}
        self.vocab = build_vocab({}, {})

    def _pieces(self, text, specials):
        if not specials:
            return [text]
        return std_re.split("(" + "|".join(map(std_re.escape, sorted(specials, key=len)[::-1])) + ")", text)

    def train(self, text, vocab_size, special_tokens=None):
        specials = list(special_tokens or ())
        words = collections.Counter()
        for piece in self._pieces(text, specials):
            if piece not in specials:
                words.update(regex.findall(self.pattern, piece))
        seqs = {w: list(w.encode()) for w in words}
        self.merges = {}
        for new_id in range(256, vocab_size - len(specials)):
            counts = collections.Counter()
            for w, seq in seqs.items():
                for p, n in get_stats(seq).items():
                    counts[p] += n * words[w]
            best = min(counts, key=lambda p: (-counts[p], p))
            self.merges[best] = new_id
            seqs = {w: merge(s, best, new_id) for w, s in seqs.items()}
        self.special_tokens = {s: vocab_size - len(specials) + i for i, s in enumerate(specials)}
        self.vocab = build_vocab(self.merges, self.special_tokens)

    def encode(self, text, allowed_special="all"):
        allowed = set(self.special_tokens) if allowed_special == "all" else set(allowed_special or ()) & set(self.special_tokens)
        out = []
        for piece in self._pieces(text, allowed):
            if piece in allowed:
                out.append(self.special_tokens[piece])
                continue
            for word in regex.findall(self.pattern, piece):
                seq = list(word.encode())
                # Apply every merge in the order learned: the same result as merging by rank.
                for pair, idx in self.merges.items():
                    if len(seq) < 2:
                        break
                    seq = merge(seq, pair, idx)
                out += seq
        return out

    def decode(self, ids):
        return bytes(b for i in ids for b in self.vocab[i]).decode("utf-8", "replace")

    def save(self, path):
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.pattern + "\n")
            f.write(repr(self.special_tokens) + "\n")
            for (a, b), _ in sorted(self.merges.items(), key=lambda kv: kv[1]):
                f.write(f"{a} {b}\n")

    @classmethod
    def load(cls, path):
        import ast

        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        tok = cls(lines[0])
        tok.special_tokens = ast.literal_eval(lines[1])
        tok.merges = {tuple(map(int, l.split())): 256 + i for i, l in enumerate(x for x in lines[2:] if x)}
        tok.vocab = build_vocab(tok.merges, tok.special_tokens)
        return tok
