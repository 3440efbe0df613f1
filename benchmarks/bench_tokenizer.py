"""Stage 1 benchmark: BPE training time and encoding throughput on Tiny Shakespeare.

    python benchmarks/bench_tokenizer.py                 # the reference solution
    python benchmarks/bench_tokenizer.py --impl stages   # your own tokenizer

Prints the training time of a 4,096-token vocabulary (goal: at most 5 s for the reference on a
2-core laptop CPU) and the encoding throughput of the learned merges, both through the tokenizer's
own encode and through tiktoken fed those merges.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from learn.shared.checking import as_tiktoken  # noqa: E402
from learn.data import fetch  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--impl", default="solutions", help="tree holding stage1_tokenizer (default: solutions)")
    parser.add_argument("--vocab-size", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    sys.path.insert(0, str((ROOT / args.impl) if not Path(args.impl).is_absolute() else Path(args.impl)))
    from stage1_tokenizer import BPETokenizer

    text = fetch("tinyshakespeare.txt").read_text(encoding="utf-8")
    n_bytes = len(text.encode("utf-8"))
    from bench_checks import machine

    print(f"{machine()}; corpus: tinyshakespeare.txt, {n_bytes:,} bytes; vocab_size {args.vocab_size}")

    times = []
    for _ in range(args.repeats):
        tok = BPETokenizer()
        start = time.perf_counter()
        tok.train(text, args.vocab_size, special_tokens=["<|endoftext|>"])
        times.append(time.perf_counter() - start)
    print(f"train:  median {statistics.median(times):.2f} s  (min {min(times):.2f}, max {max(times):.2f}, {args.repeats} runs)")

    sample = text[: 100_000]
    start = time.perf_counter()
    ids = tok.encode(sample)
    own = time.perf_counter() - start
    sample_bytes = len(sample.encode("utf-8"))
    print(f"encode (own, Python):   {sample_bytes / own / 1e6:.2f} MB/s on 100 kB, {sample_bytes / len(ids):.2f} bytes/token")

    merges = [list(p) for p, _ in sorted(tok.merges.items(), key=lambda kv: kv[1])]
    enc = as_tiktoken(tok.pattern, merges, tok.special_tokens)
    best = float("inf")
    for _ in range(args.repeats):
        start = time.perf_counter()
        all_ids = enc.encode_ordinary(text)
        best = min(best, time.perf_counter() - start)
    assert enc.encode_ordinary(sample) == ids, "tiktoken with these merges disagrees with the tokenizer"
    print(f"encode (tiktoken, same merges): {n_bytes / best / 1e6:.2f} MB/s on the whole corpus (best of {args.repeats}), "
          f"{n_bytes / len(all_ids):.2f} bytes/token")  # fmt: skip


if __name__ == "__main__":
    main()
