"""`learn finetune`'s quality in a time budget: the reference solution fine-tunes its own pretrained model.

    python benchmarks/bench_finetune.py --init runs/base-for-ft                   # classify, classify --lora 16, instruct
    python benchmarks/bench_finetune.py --init runs/base-for-ft --max-seconds 300 classify -- --lora 16
    python benchmarks/bench_finetune.py instruct                                  # pretrains runs/bench-base first

The model: a `learn pretrain --impl solutions` run, default preset (--init RUN; without it, one is
trained once into runs/bench-base with --pretrain-seconds). Then each `learn finetune` command runs
with --max-seconds (the whole command's budget, evaluations included) on the real data: the SMS
Spam Collection and the book's instruction-data.json, from $LEARN_DATA_DIR, .data/ or their URLs.

classify: accuracy on the 300 test texts (the book reaches 95.67 % from GPT-2 124M, 97.33 % with
LoRA), the confusion matrix, steps and wall time. instruct: the generated tasks' exact match
before and after tuning, by kind, and the validation loss of the book's data.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_checks import machine

ROOT = Path(__file__).resolve().parent.parent


def learn(*args: str) -> tuple[dict, str]:
    """(summary, its wall time and the CPU time the command and its worker got) of
    `python -m learn ARGS --impl solutions --json`. On a shared machine the CPU time says how
    much of the 2 cores the run had: about 2 s per second of wall time on a quiet one."""
    start, cpu = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run([sys.executable, "-m", "learn", *args, "--impl", "solutions", "--json"], cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"learn {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    wall, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN)
    used = after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime
    return json.loads(done.stdout), f"{wall:.0f} s wall, {used:.0f} CPU-seconds ({used / wall:.2f} cores on average)"


def base(args) -> str:
    """The pretraining run to start from: --init, or runs/bench-base (trained once)."""
    if args.init:
        return args.init
    folder = ROOT / "runs" / "bench-base"
    if not (folder / "summary.json").is_file():
        summary, took = learn("pretrain", "--max-seconds", str(args.pretrain_seconds), "--run", str(folder))
        print(f"pretrained runs/bench-base: val {summary['val_bpb']:.3f} bits per byte, {summary['steps']:,} steps; {took}")
    return str(folder)


def classify(init: str, max_seconds: float, more: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        s, took = learn("finetune", "classify", "--init", init, "--max-seconds", str(max_seconds), "--run", f"{tmp}/run", *more)
    m = s["confusion_matrix"]
    print(f"{machine()}; learn finetune classify --init {init} --max-seconds {max_seconds:g} {' '.join(more)}")
    print(f"  test accuracy {100 * s['test_accuracy']:.2f} % ({s['split']['test']} texts; validation "
          f"{100 * s['val_accuracy']:.2f} %, training {100 * s['train_accuracy']:.2f} %)")  # fmt: skip
    print(f"  confusion (actual -> predicted): ham->ham {m['actual ham']['predicted ham']}, ham->spam {m['actual ham']['predicted spam']}, "
          f"spam->ham {m['actual spam']['predicted ham']}, spam->spam {m['actual spam']['predicted spam']}")  # fmt: skip
    print(f"  {s['steps']:,} steps ({s['epochs']:.2f} epochs), {s['trainable_parameters']:,} of {s['parameters']:,} parameters "
          f"trained{' (stopped early)' if s['stopped'] else ''}; {took}")  # fmt: skip


def instruct(init: str, max_seconds: float, more: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        s, took = learn("finetune", "instruct", "--init", init, "--max-seconds", str(max_seconds), "--run", f"{tmp}/run", *more)
    print(f"{machine()}; learn finetune instruct --init {init} --max-seconds {max_seconds:g} {' '.join(more)}")
    print(f"  exact match on {s['eval_tasks']} generated tasks: {100 * s['exact_match_before']:.1f} % before tuning, "
          f"{100 * s['exact_match_after']:.1f} % after")  # fmt: skip
    print("  " + ", ".join(f"{kind} {k['before']}->{k['after']}/{k['tasks']}" for kind, k in s["exact_match_by_kind"].items()))
    print(f"  validation loss {s['val_loss']:.3f} (before {s['val_loss_before']:.3f}); {s['steps']:,} steps ({s['epochs']:.2f} epochs), "
          f"{s['trainable_parameters']:,} parameters trained; {took}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", nargs="?", choices=("all", "classify", "instruct"), default="all")
    parser.add_argument("--init", help="a learn pretrain run folder (default: runs/bench-base, trained once)")
    parser.add_argument("--pretrain-seconds", type=float, default=600)
    parser.add_argument("--max-seconds", type=float, default=300)
    parser.add_argument("more", nargs="*", help="more learn finetune options, after --")
    args = parser.parse_args()
    init = base(args)
    if args.what == "classify":
        classify(init, args.max_seconds, args.more)
    elif args.what == "instruct":
        instruct(init, args.max_seconds, args.more)
    else:
        classify(init, args.max_seconds, args.more)
        classify(init, args.max_seconds, [*args.more, "--lora", "16"])
        instruct(init, args.max_seconds, args.more)


if __name__ == "__main__":
    main()
