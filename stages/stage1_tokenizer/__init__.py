"""Stage 1: a byte-level BPE tokenizer (lessons/stage1_tokenizer.md)."""

from .bpe import GPT2_SPLIT_PATTERN, BPETokenizer, build_vocab, get_stats, merge

__all__ = ["GPT2_SPLIT_PATTERN", "BPETokenizer", "build_vocab", "get_stats", "merge"]
