"""`learn check`: grade a stage of a tree; a pass on the default tree is recorded and unlocks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.padding import Padding
from rich.text import Text

from learn import progress
from learn.cli.console import err, load_course, load_progress, next_step, out, pick_stage, pick_tree, plural, shown
from learn.manifest import Stage


def check(
    stage_name: str = typer.Argument(..., metavar="STAGE", help="stage3, or just 3"),
    impl: Optional[str] = typer.Option(None, "--impl", metavar="TREE", help="Grade this tree instead of stages/ (e.g. solutions, or a student's folder). Ignores locks and records nothing."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of a report."),
):  # fmt: skip
    """Run a stage's graded checks. A pass on your stages/ unlocks the next stage."""
    from learn.grader import grade

    course = load_course()
    prog = load_progress() if impl is None else None  # --impl runs ignore locks and record nothing
    stage = pick_stage(stage_name, course, prog)
    tree = pick_tree(impl, stage)
    if as_json:
        result = grade(stage, tree)
    else:
        with err.status(f"grading {stage.id} ({plural(len(stage.checks), 'check')})..."):
            result = grade(stage, tree)
    if prog is not None:
        prog.record(stage.id, result.passed, result.score, result.max_score)
        progress.save(prog)
    if as_json:
        print(json.dumps(result.to_json()))
    else:
        _print_result(stage, tree, result)
        if prog is not None and result.passed:
            out.print(f"[green]{stage.id} passed.[/] next: [bold]{next_step(prog, course)}[/]")
    raise typer.Exit(0 if result.passed else 1)


def _print_result(stage: Stage, tree: Path, result) -> None:
    out.print(f"[bold]{stage.id} · {stage.title}[/]   [dim]tree: {escape(str(shown(tree)))}/  ({result.seconds:.1f}s)[/]")
    width = max(len(c.name) for c in result.checks)  # the points in one column, however long a name
    for c in result.checks:
        mark = "[green]✓[/]" if c.passed else "[red]✗[/]"
        out.print(f" {mark} {c.name:<{width}}  {c.score:>2}/{c.points}")
        if not c.passed:  # indented, so that wrapped lines stay under their check
            out.print(Padding(Text(c.message), (0, 0, 0, 5), expand=False))
    passed = sum(c.passed for c in result.checks)
    colour = "green" if result.passed else "red"
    out.print(f"[bold {colour}]score {result.score}/{result.max_score}[/] · {passed} of {plural(len(result.checks), 'check')} pass")
