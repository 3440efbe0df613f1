"""`learn lesson`: a stage's lesson and the files the learner edits for it."""

from __future__ import annotations

import os
import sys

import typer
from rich.markdown import Markdown

from learn.cli.console import load_course, out, pick_stage


def lesson(stage_name: str = typer.Argument(..., metavar="STAGE", help="stage3, or just 3")):
    """Show a stage's lesson and the files you edit for it (in a pager, in a terminal)."""
    stage = pick_stage(stage_name, load_course())
    text = Markdown(stage.lesson_path.read_text(encoding="utf-8"))
    if out.is_terminal:  # hundreds of lines: page them; piped or redirected, print them all
        # less shows colours with -R; -F quits at once when the lesson fits the screen; -X leaves
        # the lesson on the screen after q. Windows' `more` shows no colours: send plain text there.
        os.environ.setdefault("LESS", "-FRX")
        with out.pager(styles=sys.platform != "win32"):
            out.print(text)
    else:
        out.print(text)
    out.rule()
    out.print("[bold]Files to edit:[/]")
    for f in stage.files:
        out.print(f"  stages/{stage.package}/{f}")
    out.print(f"[bold]Then run:[/] learn check {stage.id}")
