"""Stage 1 mutants: mistakes learners make when they write a BPE tokenizer."""

from mutants import Mutant
from learn import ROOT

_BPE = (ROOT / "solutions" / "stage1_tokenizer" / "bpe.py").read_text(encoding="utf-8")
# The whole training block, to swap in a straightforward trainer that breaks ties by first sight.
_TRAIN = _BPE[_BPE.index("        # BEGIN SOLUTION: count chunks") : _BPE.index("        # END SOLUTION", _BPE.index("# BEGIN SOLUTION: count chunks"))]
_FIRST_SEEN_TRAINER = '''        num_merges = vocab_size - 256 - len(special_tokens)
        self.special_tokens = {s: 0 for s in special_tokens}
        chunks = [list(c.encode("utf-8")) for part in self._split_special(text)
                  if part not in self.special_tokens for c in self.compiled_pattern.findall(part)]
        self.merges = {}
        for i in range(num_merges):
            stats = {}
            for ids in chunks:
                get_stats(ids) and [stats.__setitem__(p, stats.get(p, 0) + n) for p, n in get_stats(ids).items()]
            pair = max(stats, key=stats.get)  # ties go to the pair seen first, not the smallest
            self.merges[pair] = 256 + i
            chunks = [merge(ids, pair, 256 + i) for ids in chunks]
        self.special_tokens = {s: 256 + num_merges + k for k, s in enumerate(special_tokens)}
        self.vocab = build_vocab(self.merges, self.special_tokens)
'''
# Steps 1 to 3 of train, to swap in the plain trainer that recounts every chunk as often as it occurs.
_COUNTING = _BPE[_BPE.index("        # 1. Pre-tokenize") : _BPE.index("        self.special_tokens = {s: 256 + num_merges")]
_PER_OCCURRENCE_TRAINER = '''\
        parts = [part for part in self._split_special(text, set(special_tokens)) if part not in special_tokens]
        words = [list(c.encode("utf-8")) for part in parts for c in self.compiled_pattern.findall(part)]
        self.merges = {}
        for i in range(num_merges):
            stats = Counter()
            for ids in words:
                stats.update(zip(ids, ids[1:]))
            if not stats:
                raise ValueError(f"the text has only {i} distinct pairs to merge")
            pair = min(stats, key=lambda p: (-stats[p], p))
            self.merges[pair] = 256 + i
            words = [merge(ids, pair, 256 + i) for ids in words]
'''

MUTANTS = [
    Mutant("counts_each_pair_once", "bpe.py",
           "counts[pair] = counts.get(pair, 0) + 1", "counts[pair] = 1",
           ("get_stats_counts_adjacent_pairs",)),
    Mutant("merge_overlaps", "bpe.py", "            out.append(idx)\n            i += 2", "            out.append(idx)\n            i += 1",
           ("merge_replaces_left_to_right",)),
    Mutant("merges_across_pretoken_boundaries", "bpe.py",
           "chunks.update(self.compiled_pattern.findall(part))", "chunks.update([part])",
           ("merges_match_reference",)),
    Mutant("tie_break_by_first_seen", "bpe.py", _TRAIN, _FIRST_SEEN_TRAINER, ("merges_match_reference",)),
    # learn pretrain trains on megabytes: each chunk recounted as often as it occurs times out on 170 KB
    Mutant("recounts_every_occurrence", "bpe.py", _COUNTING, _PER_OCCURRENCE_TRAINER, ("compresses_held_out_text",)),
    # learn pretrain reports a ValueError as "too small"; stopping early gives a smaller vocabulary without a word
    Mutant("stops_when_pairs_run_out", "bpe.py", "            if not heap:\n                raise",
           "            if not heap:\n                break\n                raise", ("exact_vocab_size",)),
    Mutant("pairs_not_weighted_by_chunk_count", "bpe.py", "stats[pair] += freqs[w]", "stats[pair] += 1",
           ("merges_match_reference",)),
    Mutant("special_token_split_when_encoding", "bpe.py",
           "for part in self._split_special(text, allowed):", "for part in [text]:",
           ("special_tokens_stay_whole", "encoding_matches_tiktoken")),
    Mutant("special_tokens_trained_on", "bpe.py",
           "            if part not in special_tokens:\n                chunks.update",
           "            if True:\n                chunks.update",
           ("special_tokens_stay_whole",)),
    Mutant("merges_applied_latest_first", "bpe.py",
           'pair = min(stats, key=lambda p: self.merges.get(p, float("inf")))',
           "pair = max(stats, key=lambda p: self.merges.get(p, -1))",
           ("encoding_matches_tiktoken",)),
    Mutant("vocab_size_off_by_one", "bpe.py",
           "num_merges = vocab_size - 256 - len(special_tokens)\n        if",
           "num_merges = vocab_size - 255 - len(special_tokens)\n        if",
           ("exact_vocab_size",)),
    Mutant("decode_raises_on_broken_utf8", "bpe.py", '.decode("utf-8", errors="replace")', '.decode("utf-8")',
           ("decode_replaces_invalid_utf8",)),
    Mutant("decode_token_by_token", "bpe.py",
           'return b"".join(self.vocab[i] for i in ids).decode("utf-8", errors="replace")',
           'return "".join(self.vocab[i].decode("utf-8", errors="replace") for i in ids)',
           ("decode_replaces_invalid_utf8", "roundtrip_on_diverse_text")),
    Mutant("save_merges_unordered", "bpe.py",
           "[list(pair) for pair, _ in sorted(self.merges.items(), key=lambda item: item[1])]",
           "[list(pair) for pair in sorted(self.merges)]",
           ("save_load_roundtrip",)),
    Mutant("load_forgets_special_tokens", "bpe.py",
           'tok.special_tokens = dict(data["special_tokens"])', "tok.special_tokens = {}",
           ("save_load_roundtrip",)),
    Mutant("encode_skips_merges", "bpe.py",
           'ids.extend(self._encode_chunk(chunk.encode("utf-8")))', 'ids.extend(chunk.encode("utf-8"))',
           ("compresses_held_out_text", "encoding_matches_tiktoken")),
    Mutant("encode_returns_nothing", "bpe.py",
           "                ids.extend(self._encode_chunk(chunk.encode(\"utf-8\")))\n        return ids",
           "                ids.extend(self._encode_chunk(chunk.encode(\"utf-8\")))\n        return []",
           ("compresses_held_out_text", "roundtrip_on_diverse_text", "encoding_matches_tiktoken")),
    Mutant("merges_applied_most_frequent_first", "bpe.py",
           'pair = min(stats, key=lambda p: self.merges.get(p, float("inf")))',
           'pair = max(stats, key=lambda p: (p in self.merges, stats[p]))',
           ("encoding_matches_tiktoken",)),
    Mutant("special_tokens_not_cut_in_training", "bpe.py",
           "for part in self._split_special(text, set(special_tokens)):", "for part in self._split_special(text):",
           ("special_tokens_stay_whole",)),
    Mutant("special_tokens_take_the_first_ids", "bpe.py",
           "{s: 256 + num_merges + k for k, s in enumerate(special_tokens)}",
           "{s: 256 + k for k, s in enumerate(special_tokens)}",
           ("special_tokens_stay_whole",)),
]  # fmt: skip
