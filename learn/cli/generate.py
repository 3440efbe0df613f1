"""`learn generate "prompt"`: continue a text with the model of a pretraining run.

    learn generate "ROMEO:"                                  the latest run in runs/
    learn generate "ROMEO:" --run mine --max-new-tokens 300 --temperature 0.8 --top-k 40

It reads the run folder (learn/cli/runs.py) in this process, hands the checkpoint over to a worker
(which maps it: a GPT-2-sized one stays out of this process) and sends it the tokenizer; the worker
runs your stage-4 generate, with your stage-5 text_to_token_ids and
token_ids_to_text (learn/engine/pretrain.py); the text comes back and is printed.
"""

from __future__ import annotations

from typing import Optional

import typer

from learn.cli.console import err, pick_tree, usage_error
from learn.cli.runs import failed, latest_run, packages_through, read_run, run_folder, workers_reading

TIMEOUT = 300  # seconds: start-up, loading and a few thousand tokens on a CPU


def generate(
    prompt: str = typer.Argument(..., metavar="PROMPT", help="The text to continue, in quotes."),
    run: Optional[str] = typer.Option(None, "--run", metavar="NAME|DIR", help="runs/NAME or a run folder (default: the latest)."),
    max_new_tokens: int = typer.Option(100, "--max-new-tokens", min=1, max=5000),
    temperature: float = typer.Option(0.8, "--temperature", min=0.0, help="0 picks the likeliest token each time."),
    top_k: Optional[int] = typer.Option(40, "--top-k", min=1),
    seed: int = typer.Option(123, "--seed"),
    impl: Optional[str] = typer.Option(None, "--impl", metavar="TREE", help="Use the stages of this tree instead of stages/."),
):  # fmt: skip
    """Continue PROMPT with your trained GPT (a run of `learn pretrain`)."""
    if not prompt:
        raise usage_error("the prompt is empty: give some text to continue")
    tree = pick_tree(impl, None)
    packages = packages_through(5, tree, "learn generate")
    folder = run_folder(run) if run is not None else latest_run()
    _, checkpoint, tokenizer = read_run(folder)

    from learn.judge.workers import ProbeFailed

    engine, checkpoint = workers_reading(tree, packages, checkpoint, gpt2=tokenizer is None)
    kwargs = {"checkpoint": checkpoint, "tokenizer": tokenizer, "prompt": prompt, "max_new_tokens": max_new_tokens,
              "temperature": temperature, "top_k": top_k, "seed": seed}  # fmt: skip
    try:
        with err.status("generating..."):
            text = engine.run("learn.engine.pretrain:probe_generate", kwargs, TIMEOUT, package="stage5_pretrain")
    except ProbeFailed as e:
        raise failed(e, folder) from None
    finally:
        engine.close()
    print(text)
