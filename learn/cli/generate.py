"""`learn generate "prompt"`: continue a text with the model of a pretraining run.

    learn generate "ROMEO:" --run latest --max-new-tokens 100 --temperature 0.8 --top-k 40

It reads runs/<name>/checkpoint.pt and tokenizer.json (written by `learn pretrain`) in this
process and sends them as bytes to a worker that runs your stage-4 generate on them (the same
containment as `learn pretrain`, learn/worker/pretrain.py); the text comes back and is printed.
"""

from __future__ import annotations

from typing import Optional

import typer
from rich.markup import escape

from learn.cli.console import err, load_course, pick_tree, shown, usage_error
from learn.cli.pretrain import MEMORY, PACKAGES, run_folder

TIMEOUT = 120  # seconds: start-up, loading and a few hundred tokens on a CPU


def generate(
    prompt: str = typer.Argument(..., metavar="PROMPT", help="The text to continue, in quotes."),
    run: str = typer.Option("latest", "--run", metavar="NAME|DIR", help="The run folder: runs/NAME, or a path."),
    max_new_tokens: int = typer.Option(100, "--max-new-tokens", min=1, max=2000),
    temperature: float = typer.Option(0.8, "--temperature", min=0.0, help="0 picks the likeliest token each time."),
    top_k: Optional[int] = typer.Option(40, "--top-k", min=1),
    seed: int = typer.Option(123, "--seed"),
    impl: Optional[str] = typer.Option(None, "--impl", metavar="TREE", help="Use the stages of this tree instead of stages/."),
):  # fmt: skip
    """Continue PROMPT with your trained GPT (a run of `learn pretrain`)."""
    load_course()
    tree = pick_tree(impl, None)
    missing = [p for p in PACKAGES if not (tree / p).is_dir()]
    if missing:
        raise usage_error(escape(f"{shown(tree)} holds no {', '.join(missing)}/: learn generate runs your stages 1 to 5"))
    if not prompt:
        raise usage_error("the prompt is empty: give some text to continue")
    folder = run_folder(run)
    try:
        checkpoint = (folder / "checkpoint.pt").read_bytes()
    except OSError:
        raise usage_error(escape(f"no checkpoint in {shown(folder)}/: run `learn pretrain --run {run}` first")) from None
    tokenizer = (folder / "tokenizer.json").read_bytes() if (folder / "tokenizer.json").is_file() else None

    from learn.judge import reaper
    from learn.judge.workers import ProbeFailed, Workers
    from learn.worker.pretrain import probe_generate
    from learn.worker.sandbox import Limits

    reaper.guard_this_process()
    workers = Workers(PACKAGES, tree, Limits(address_space=MEMORY))
    kwargs = {"checkpoint": checkpoint, "tokenizer": tokenizer, "prompt": prompt, "max_new_tokens": max_new_tokens,
              "temperature": temperature, "top_k": top_k, "seed": seed}  # fmt: skip
    try:
        with err.status("generating..."):
            text = workers.run(probe_generate, kwargs, TIMEOUT, package="stage5_pretrain")
    except ProbeFailed as e:
        err.print(f"[bold red]error:[/] {escape(' '.join(str(e).split()))}")
        raise typer.Exit(1) from None
    finally:
        workers.close()
    print(text)
