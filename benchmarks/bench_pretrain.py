"""`learn pretrain`'s speed next to the book's loop, and the quality it reaches in a time budget.

    python benchmarks/bench_pretrain.py speed                 # tokens/s, side by side, one run
    python benchmarks/bench_pretrain.py quality --max-seconds 240
    python benchmarks/bench_pretrain.py quality --max-seconds 600 --run runs/base   # kept, to fine-tune
    python benchmarks/bench_pretrain.py first-run --max-seconds 240 --rounds 2

speed: the reference solution (solutions/) at 4 layers, 4 heads, 256 dims, context 128, vocabulary
4,096, batch 16. First the book's train_model_simple on the book's GPTModel in float32 with
torch.optim.AdamW's defaults, on --steps batches, timing its training steps only (its evaluations and
sample left out); then `learn pretrain --max-steps` with the same
config in a worker (--precision auto: bf16 autocast where the CPU has bf16 arithmetic, AVX-512
or AMX, else fp32; fused AdamW, clipping after warm-up, every core), whose summary.json reports
tokens/s of its training steps. Both read Tiny Shakespeare when it is at
hand ($LEARN_DATA_DIR or .data/), else a made-up text (speed does not depend on which tokens).

quality: `learn pretrain` with the default preset on Tiny Shakespeare and --max-seconds; prints
the validation curve (bits per byte at each evaluation), the summary, the command's wall time
and the peak memory (largest resident set of the command and the worker it started).

first-run: a learner's first `learn pretrain --max-seconds` with their own tokenizer, side by side:
the reference, then the reference with stage 1 replaced by the variant (tests/variants/), a plain BPE
as the lesson teaches it (counted chunks, no encode cache). Each tree's tokenizer is new to the cache,
so each run trains and applies it before its training budget starts; prints steps, bits per byte,
training tokens/s and where the time went for each run, and the medians' comparison. With --rounds N
the trees take turns (reference first, then plain BPE first, ...): the step counts follow the
machine's speed, which drifts on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = {"vocab_size": 4096, "context_length": 128, "emb_dim": 256, "n_heads": 4, "n_layers": 4, "drop_rate": 0.0, "qkv_bias": False}
BATCH = 16


def learn(*args: str, keep: str | None = None, impl: str = "solutions") -> tuple[dict, float]:
    """(summary, wall seconds) of `python -m learn pretrain --impl IMPL --json ARGS`; its run
    folder is `keep` (e.g. for `learn finetune --init`), else a temporary one."""
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(keep or tmp + "/run").resolve()
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "learn", "pretrain", "--impl", impl, "--json", "--run", str(run), *args],
                              cwd=ROOT, capture_output=True, text=True)  # fmt: skip
        wall = time.perf_counter() - start
        if done.returncode != 0:
            sys.exit(f"learn pretrain failed:\n{done.stderr[-2000:]}")
        summary = json.loads(done.stdout)
        import torch

        summary["evals"] = torch.load(run / "checkpoint.pt", weights_only=True, mmap=True)["evals"]
    return summary, wall


def data_file(tmp: Path) -> Path:
    """Tiny Shakespeare if it is at hand, else 1 MB of made-up words."""
    for folder in (os.environ.get("LEARN_DATA_DIR"), ROOT / ".data"):
        if folder and (Path(folder) / "tinyshakespeare.txt").is_file():
            return Path(folder) / "tinyshakespeare.txt"
    rng = random.Random(0)
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(1, 9))) for _ in range(5000)]
    path = tmp / "words.txt"
    path.write_text(" ".join(rng.choice(words) for _ in range(200_000)), encoding="utf-8")
    return path


def book_tokens_per_second(steps: int) -> float:
    """The book's training step (train_model_simple's: zero_grad, calc_loss_batch, backward, step), fp32,
    AdamW(lr=4e-4, weight_decay=0.1) as chapter 5 sets it. Only the steps are timed, as learn pretrain's
    tokens/s counts only its train_step calls: the book's evaluations and sample are left out."""
    sys.path.insert(0, str(ROOT / "solutions"))
    import torch

    from stage4_model import GPTModel
    from stage5_pretrain import calc_loss_batch

    torch.manual_seed(0)
    model = GPTModel(CONFIG)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=4e-4, weight_decay=0.1)
    data = torch.randint(0, CONFIG["vocab_size"], (steps, BATCH, CONFIG["context_length"] + 1))
    batches = [(d[:, :-1], d[:, 1:]) for d in data]  # (B, T) inputs and their next tokens
    start = time.perf_counter()
    for input_batch, target_batch in batches:
        optimizer.zero_grad()
        loss = calc_loss_batch(input_batch, target_batch, model, "cpu")
        loss.backward()
        optimizer.step()
    return steps * BATCH * CONFIG["context_length"] / (time.perf_counter() - start)


def speed(args) -> None:
    import torch

    book = book_tokens_per_second(args.steps)
    with tempfile.TemporaryDirectory() as tmp:
        data = data_file(Path(tmp))
        flags = [f"--{k.replace('_', '-')}={v}" for k, v in CONFIG.items() if k not in ("drop_rate", "qkv_bias")]
        ours, _ = learn("--data", str(data), *flags, f"--batch-size={BATCH}", f"--max-steps={args.steps}", "--max-seconds=100000")
    from bench_checks import machine

    print(f"{machine()}; {torch.get_num_threads()} threads; config {CONFIG}, batch {BATCH}, {args.steps} steps each,")
    print("training steps only on both sides (no evaluations, samples or data loading)")
    print(f"book: train_model_simple's step, fp32, AdamW for-each:     {book:10,.0f} tokens/s")
    what = f"learn pretrain ({ours['config']['precision']}, fused AdamW, clipping):"
    print(f"{what:<59}{ours['tokens_per_second']:10,.0f} tokens/s   "
          f"{ours['tokens_per_second'] / book:.2f}x")  # fmt: skip


def quality(args) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data = data_file(Path(tmp))
        summary, wall = learn("--data", str(data), f"--max-seconds={args.max_seconds}", *args.more, keep=args.run)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20  # KiB -> GiB
    from bench_checks import machine

    print(f"{machine()}; data {data.name}, --max-seconds {args.max_seconds} {' '.join(args.more)}")
    print("  step   tokens seen   val loss   bits/byte (8 batches)")
    tokens_per_byte = summary["val_bpb"] * 0.6931471805599453 / summary["val_loss"]
    for step, seen, _, val in summary["evals"]:
        print(f"{step:6,}  {seen:12,}   {val:8.3f}   {val * tokens_per_byte / 0.6931471805599453:8.3f}")
    print(f"final (whole validation text): val loss {summary['val_loss']:.3f}, perplexity {summary['val_ppl']:.1f}, "
          f"{summary['val_bpb']:.3f} bits per byte; train loss {summary['train_loss']:.3f}")  # fmt: skip
    print(f"{summary['steps']:,} steps, {summary['tokens_seen']:,} tokens, {summary['tokens_per_second']:,.0f} tokens/s, "
          f"{summary['parameters']:,} parameters; wall {wall:.1f} s (summary: {summary['seconds']} s); peak memory {peak:.2f} GiB")  # fmt: skip


def new_tree(folder: Path, stage1: Path) -> Path:
    """solutions/ copied to `folder` with `stage1` as its stage 1, marked so its tokenizer is not cached."""
    shutil.copytree(ROOT / "solutions", folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.rmtree(folder / "stage1_tokenizer")
    shutil.copytree(stage1, folder / "stage1_tokenizer", ignore=shutil.ignore_patterns("__pycache__"))
    with open(folder / "stage1_tokenizer" / "__init__.py", "a", encoding="utf-8") as f:
        f.write(f"# first run {time.time_ns()}\n")  # a new hash: the tokenizer cache has never seen this tree
    return folder


def first_run(args) -> None:
    """Each tree's first run, in turns (reference then plain BPE, then the other way round, so that a
    machine that slows down or speeds up weighs on both alike), then their figures side by side."""
    from statistics import median

    from bench_checks import machine
    from learn.cli.pretrain import CACHE

    before = set(CACHE.glob("*.json"))
    stage1 = "stage1_tokenizer"
    trees = {"reference": ROOT / "solutions" / stage1, "plain BPE": ROOT / "tests" / "variants" / stage1 / stage1}
    more = [f"--max-seconds={args.max_seconds}", *([f"--threads={args.threads}"] if args.threads else [])]
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        data = data_file(Path(tmp))
        for turn in range(args.rounds):
            for name in list(trees)[:: 1 if turn % 2 == 0 else -1]:
                tree = new_tree(Path(tmp) / f"{name}-{turn}", trees[name])
                runs.append((name, *learn("--data", str(data), *more, impl=str(tree))))
    for path in set(CACHE.glob("*.json")) - before:
        path.unlink()  # the marked trees' tokenizers: nobody runs those trees again
    print(f"{machine()}; data {data.name}, first run of each tree, {' '.join(more)}, {args.rounds} round(s)")
    print("tree          steps  bits/byte  tokens/s  tokenizer s  training s  evaluations s  wall s")
    for name, summary, wall in runs:
        spent = summary["time"]
        evaluations = spent["evaluations"] + spent["final_evaluation"]
        print(f"{name:<11}{summary['steps']:>8,}{summary['val_bpb']:>11.3f}{summary['tokens_per_second']:>10,.0f}"
              f"{spent['tokenizer']:>13.1f}{spent['training']:>12.1f}{evaluations:>15.1f}{wall:>8.1f}")
    steps = {name: median(s["steps"] for n, s, _ in runs if n == name) for name in trees}
    bpb = {name: median(s["val_bpb"] for n, s, _ in runs if n == name) for name in trees}
    print(f"plain BPE against the reference (medians): {steps['plain BPE'] / steps['reference']:.1%} of the steps, "
          f"{bpb['plain BPE'] - bpb['reference']:+.3f} bits per byte")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("speed")
    p.add_argument("--steps", type=int, default=40)
    p = sub.add_parser("quality")
    p.add_argument("--max-seconds", type=float, default=240)
    p.add_argument("--run", help="keep the run in this folder (a new one), e.g. for benchmarks/bench_finetune.py --init")
    p.add_argument("more", nargs="*", help="more learn pretrain options, after --")
    p = sub.add_parser("first-run")
    p.add_argument("--max-seconds", type=float, default=240)
    p.add_argument("--rounds", type=int, default=1, help="runs of each tree, in turns")
    p.add_argument("--threads", type=int, help="learn pretrain --threads (default: its own)")
    args = parser.parse_args()
    {"speed": speed, "quality": quality, "first-run": first_run}[args.what](args)


if __name__ == "__main__":
    main()
