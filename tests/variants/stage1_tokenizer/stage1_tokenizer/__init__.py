"""A second, independently written stage 1: a straightforward BPE that recounts after each merge."""

from .tokenizer import GPT2_SPLIT_PATTERN, BPETokenizer, build_vocab, get_stats, merge

__all__ = ["GPT2_SPLIT_PATTERN", "BPETokenizer", "build_vocab", "get_stats", "merge"]
