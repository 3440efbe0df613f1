"""`learn pretrain` on a GPU and in several processes: tokens/s, MFU, and what data parallelism costs.

    python benchmarks/bench_distributed.py cpu                 # 1 process against --nproc 2, here
    python benchmarks/bench_distributed.py gpu                 # GPT-2 124M in bf16 on a GPU
    python benchmarks/bench_distributed.py gpu --nproc 8 --compile

cpu: the default preset (small: 4 layers, 128 dims, context 128, your BPE of 1,024) on Tiny
Shakespeare, --steps steps in fp32, in one process (every core, then one thread) and with
--nproc 2 (its share of the cores each, the gloo backend): tokens/s of each from summary.json,
and the largest difference between the losses of the first and the last (the same steps: it
should be float rounding). Other work on the machine weighs most on the first: the threads of
one process wait for each other at every operation (the load average is printed).

gpu: GPT-2 124M as the book configures it (12 layers, 12 heads, 768 dims, context 1,024, GPT-2's
tokenizer; its own output layer, so 163 M parameters of which 124 M multiply) in bf16 autocast
with TF32, on Tiny Shakespeare prepared into a token file (`learn prepare --tokenizer gpt2`).
Two runs of --steps and --steps / 5 steps: the longer one's summary gives tokens/s and MFU as a
user sees them (start-up of the step loop and, with --compile, compiling included); their
difference the steady rate. MFU is 6 N + 12 L T d FLOPs per token (N the weights that multiply)
over the GPU's dense bf16 peak (learn/engine/distributed.py's table). llm.c reports about 40-47 %
for this model on an H100.

Both need GPT-2's tokenizer files for `gpu` (tiktoken's cache, $TIKTOKEN_CACHE_DIR) and Tiny
Shakespeare ($LEARN_DATA_DIR or .data/, else it is downloaded once).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_checks import machine

ROOT = Path(__file__).resolve().parent.parent
GPT2 = ["--n-layers=12", "--n-heads=12", "--emb-dim=768", "--context-length=1024", "--tokenizer=gpt2"]


def learn(*args: str) -> tuple[dict, dict, float]:
    """(summary, last checkpoint's state, wall seconds) of `python -m learn pretrain --json ARGS` in a new run folder."""
    import torch

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "learn", "pretrain", "--impl", "solutions", "--json", "--run", tmp + "/run", *args],
                              cwd=ROOT, capture_output=True, text=True)  # fmt: skip
        wall = time.perf_counter() - start
        if done.returncode != 0:
            sys.exit(f"learn pretrain {' '.join(args)} failed:\n{done.stderr[-2000:]}")
        state = torch.load(Path(tmp) / "run" / "checkpoint.pt", weights_only=True, map_location="cpu")
        return json.loads(done.stdout), {k: state[k] for k in ("losses", "train_seconds", "tokens_seen")}, wall


def cpu(args) -> None:
    import os

    common = ["--model=small", "--precision=fp32", f"--max-steps={args.steps}", "--max-seconds=100000"]
    load = os.getloadavg()[0]  # other work on the cores changes everything: several threads of one process wait on each other
    one, one_state, one_wall = learn(*common)
    single, _, single_wall = learn(*common, "--threads=1")
    two, two_state, two_wall = learn(*common, "--nproc=2")
    gap = max(abs(a[2] - b[2]) for a, b in zip(one_state["losses"], two_state["losses"]))
    print(f"{machine()} (load {load:.1f} before, {os.getloadavg()[0]:.1f} after); preset small on Tiny Shakespeare, fp32, "
          f"batch {one['config']['batch_size']}, {args.steps} steps")  # fmt: skip
    print(f"1 process, every core:           {one['tokens_per_second']:9,.0f} tokens/s   wall {one_wall:5.1f} s   val loss {one['val_loss']:.4f}")
    print(f"1 process, 1 thread:             {single['tokens_per_second']:9,.0f} tokens/s   wall {single_wall:5.1f} s")
    print(f"2 processes (gloo, a core each): {two['tokens_per_second']:9,.0f} tokens/s   wall {two_wall:5.1f} s   val loss {two['val_loss']:.4f}"
          f"   {two['tokens_per_second'] / one['tokens_per_second']:.2f}x the first, {two['tokens_per_second'] / single['tokens_per_second']:.2f}x the second")  # fmt: skip
    print(f"largest difference between their {len(one_state['losses'])} training losses: {gap:.2e}")


def gpu(args) -> None:
    import torch

    if not torch.cuda.is_available():
        print("no CUDA GPU here: nothing to measure (run `cpu` for the processes on this machine's cores)")
        return
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "tinyshakespeare-gpt2.bin"
        prep = subprocess.run([sys.executable, "-m", "learn", "prepare", "tinyshakespeare", "--tokenizer=gpt2", "--out", str(data)],
                              cwd=ROOT, capture_output=True, text=True)  # fmt: skip
        if prep.returncode != 0:
            sys.exit(f"learn prepare failed:\n{prep.stderr[-2000:]}")
        flags = [f"--data={data}", *GPT2, f"--batch-size={args.batch_size}", f"--accumulation={args.accumulation}",
                 "--device=cuda", "--max-seconds=100000", *(["--compile"] if args.compile else []),
                 *([f"--nproc={args.nproc}"] if args.nproc > 1 else [])]  # fmt: skip
        short, short_state, _ = learn(*flags, f"--max-steps={max(2, args.steps // 5)}")
        long, long_state, wall = learn(*flags, f"--max-steps={args.steps}")
    steady = (long_state["tokens_seen"] - short_state["tokens_seen"]) / (long_state["train_seconds"] - short_state["train_seconds"])
    mfu = long["config"]["mfu"]
    config = long["config"]
    print(f"{config['device']} x {config['world_size']}; GPT-2 124M ({long['parameters']:,} parameters), context {config['context_length']}, "
          f"batch {config['batch_size']} x {config['accumulation']} accumulated, {config['precision']}, compile {config['compile']}")  # fmt: skip
    print(f"{args.steps} steps: {long['tokens_per_second']:,.0f} tokens/s" + (f", MFU {mfu:.1%}" if mfu is not None else "") +
          f" (wall {wall:.0f} s, everything included)")  # fmt: skip
    if mfu is not None:
        print(f"steady (steps {args.steps // 5} to {args.steps}): {steady:,.0f} tokens/s, MFU {mfu * steady / long['tokens_per_second']:.1%}")
    print(f"val loss {long['val_loss']:.3f}, {long['val_bpb']:.3f} bits per byte")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("cpu")
    p.add_argument("--steps", type=int, default=30)
    p = sub.add_parser("gpu")
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--batch-size", type=int, default=16, help="the global micro-batch (16 x 1,024 tokens fits one 80 GB GPU)")
    p.add_argument("--accumulation", type=int, default=1)
    p.add_argument("--nproc", type=int, default=1, help="GPUs")
    p.add_argument("--compile", action="store_true")
    args = parser.parse_args()
    cpu(args) if args.what == "cpu" else gpu(args)


if __name__ == "__main__":
    main()
