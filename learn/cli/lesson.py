"""`learn lesson`: a stage's lesson and the files the learner edits for it."""

from __future__ import annotations

import typer
from rich.markdown import Markdown

from learn.cli.console import load_course, out, pick_stage


def lesson(stage_name: str = typer.Argument(..., metavar="STAGE", help="stage3, or just 3")):
    """Show a stage's lesson and the files you edit for it."""
    stage = pick_stage(stage_name, load_course())
    out.print(Markdown(stage.lesson_path.read_text(encoding="utf-8")))
    out.rule()
    out.print("[bold]Files to edit:[/]")
    for f in stage.files:
        out.print(f"  stages/{stage.package}/{f}")
    out.print(f"[bold]Then run:[/] learn check {stage.id}")
