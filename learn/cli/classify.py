"""`learn classify "text"`: spam or not spam, by the classifier of a `learn finetune classify` run.

    learn classify "You are a winner you have been specially selected to receive $1000 cash"   the latest run
    learn classify "Are we still on for dinner tonight?" --run runs/classify-mine

It reads the run folder in this process and sends its checkpoint (and tokenizer) to a worker that
rebuilds the classifier as it was trained (your GPTModel, prepare_classifier or LoRA, and GPT-2's
file again for a run that started from it) and answers with your classify_review
(learn/engine/finetune.py).
"""

from __future__ import annotations

from typing import Optional

import typer
from rich.markup import escape

from learn.cli.console import err, pick_tree, shown, usage_error
from learn.cli.runs import (
    GPT2_MEMORY,
    MEMORY,
    failed,
    gpt2_weights,
    hand_over,
    latest_run,
    packages_through,
    read_run,
    run_folder,
    workers_reading,
)

TIMEOUT = 300  # seconds: start-up, loading (GPT-2's file too) and one text


def classify(
    text: str = typer.Argument(..., metavar="TEXT", help="The message to classify, in quotes."),
    run: Optional[str] = typer.Option(None, "--run", metavar="NAME|DIR", help="A `learn finetune classify` run (default: the latest)."),
    impl: Optional[str] = typer.Option(None, "--impl", metavar="TREE", help="Use the stages of this tree instead of stages/."),
):  # fmt: skip
    """Say whether TEXT is spam, with your fine-tuned classifier (a run of `learn finetune classify`)."""
    if not text.strip():
        raise usage_error("the text is empty: give a message to classify")
    tree = pick_tree(impl, None)
    packages = packages_through(6, tree, "learn classify")
    folder = run_folder(run) if run is not None else latest_run("classify")
    info, checkpoint, tokenizer = read_run(folder)
    if info.get("task") != "classify" or "config" not in info:
        raise usage_error(escape(f"{shown(folder)}/ is not a finished `learn finetune classify` run"))
    record = info["init"]
    from_gpt2 = record.get("kind") == "gpt2"
    engine, checkpoint = workers_reading(tree, packages, checkpoint, GPT2_MEMORY if from_gpt2 else MEMORY, gpt2=tokenizer is None)
    try:
        if from_gpt2:
            init = {"kind": "gpt2", "path": hand_over(engine, gpt2_weights(record["file"]))}
        else:
            init = {"kind": "config", "config": info["config"], "tokenizer": tokenizer}
        kwargs = {"init": init, "checkpoint": checkpoint, "text": text, "lora": info.get("lora"),
                  "layers": info["train"]["layers"], "max_length": info["max_length"]}  # fmt: skip

        from learn.judge.workers import ProbeFailed

        try:
            with err.status("classifying..."):
                label = engine.run("learn.engine.finetune:probe_classify_text", kwargs, TIMEOUT,
                                   package="stage6_finetune")
        except ProbeFailed as e:
            raise failed(e, folder) from None
    finally:
        engine.close()
    print(label)

