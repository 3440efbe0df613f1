"""`learn check`: grade a stage of a tree (or every ready stage with --all); a pass on the default
tree is recorded and unlocks the next stage."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.padding import Padding
from rich.text import Text

from learn import progress
from learn.cli.console import (err, find_tree, load_course, load_progress, next_step, out, pick_stage, pick_tree, plural,
                               say_containment, shown, usage_error)
from learn.manifest import Stage


def check(
    stage_name: Optional[str] = typer.Argument(None, metavar="STAGE", help="stage3, or just 3"),
    every: bool = typer.Option(False, "--all", help="Grade every ready stage, locked or not (for a classroom's autograder)."),
    impl: Optional[str] = typer.Option(None, "--impl", metavar="TREE", help="Grade this tree instead of stages/ (e.g. solutions, or a student's folder). Ignores locks and records nothing."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of a report."),
    seed: Optional[int] = typer.Option(None, "--seed", metavar="S", help="Replay a run: the seed its report shows (inputs are drawn from it)."),
    gradescope: Optional[Path] = typer.Option(None, "--gradescope", metavar="FILE", help="With --all: also write FILE in Gradescope's results.json format (e.g. /autograder/results/results.json)."),
):  # fmt: skip
    """Run a stage's graded checks. A pass on your stages/ unlocks the next stage.

    Exit codes: 0 every check passed, 1 some check failed, 2 bad input or a locked stage, 3 the
    grader itself failed (never your code's doing; a log is written to .learn/logs/)."""
    from learn.judge.grader import GraderError, grade_stages

    if every == (stage_name is not None):
        raise usage_error("name one stage (learn check stage3) or say --all, not both")
    if gradescope is not None and not every:
        raise usage_error("--gradescope goes with --all: Gradescope grades the whole course")
    course = load_course()
    prog = load_progress() if impl is None else None  # --impl runs ignore locks and record nothing
    if every:
        stages = [s for s in course if s.ready]
        tree = find_tree(pick_tree(impl, None), course)  # a handed-in folder may hold the tree one level down
    else:
        stages = [pick_stage(stage_name, course, prog)]
        tree = pick_tree(impl, stages[0])
    present = [s for s in stages if (tree / s.package).is_dir()]
    if gradescope is not None:
        say_containment()
    try:
        if as_json or not present:
            results = grade_stages(present, tree, seed) if present else []
        else:
            with err.status(f"grading {', '.join(s.id for s in present)} ({plural(sum(len(s.checks) for s in present), 'check')})..."):
                results = grade_stages(present, tree, seed)
    except GraderError as e:
        log = progress.path().parent / "logs" / f"grader-{time.strftime('%Y%m%d-%H%M%S')}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(f"{e}\n\n{e.log}\n", encoding="utf-8")
        err.print(f"[bold red]grader error:[/] {escape(str(e).splitlines()[0])} (details in {escape(str(log))}; please report it)")
        raise typer.Exit(3) from None
    by_id = {r.stage: r for r in results}
    if prog is not None:
        for r in results:
            prog.record(r.stage, r.passed, r.score, r.max_score)
        progress.save(prog)
    passed = len(results) == len(stages) and all(r.passed for r in results)
    if gradescope is not None:
        from learn.judge.reports import course_version
        from learn.judge.reports import gradescope as results_json

        try:
            gradescope.parent.mkdir(parents=True, exist_ok=True)
            gradescope.write_text(json.dumps(results_json([r.to_json() for r in results], stages, course_version())) + "\n", encoding="utf-8")
        except OSError as e:
            raise usage_error(escape(f"--gradescope {gradescope}: cannot write it ({e.strerror or e})")) from None
    if as_json:
        if every:
            missing = [{"stage": s.id, "score": 0, "max_score": s.max_score, "passed": False, "missing": True} for s in stages if s.id not in by_id]
            reports = [by_id[s.id].to_json() if s.id in by_id else missing.pop(0) for s in stages]
            print(json.dumps({"tree": str(tree), "passed": passed, "score": sum(r["score"] for r in reports),
                              "max_score": sum(s.max_score for s in stages), "stages": reports}))  # fmt: skip
        else:
            print(json.dumps(results[0].to_json()))
    else:
        for s in stages:
            if s.id in by_id:
                _print_result(s, tree, by_id[s.id])
            else:
                out.print(f"[bold]{s.id} · {s.title}[/]   [red]missing:[/] {escape(str(shown(tree)))}/ holds no {s.package}/ (0/{s.max_score})")
        if every:
            colour = "green" if passed else "red"
            total = sum(r.score for r in results)
            out.print(f"[bold {colour}]total {total}/{sum(s.max_score for s in stages)}[/]")
        if prog is not None and passed:
            out.print(f"[green]{', '.join(s.id for s in stages)} passed.[/] next: [bold]{next_step(prog, course)}[/]")
    raise typer.Exit(0 if passed else 1)


def _print_result(stage: Stage, tree: Path, result) -> None:
    out.print(f"[bold]{stage.id} · {stage.title}[/]   [dim]tree: {escape(str(shown(tree)))}/  ({result.seconds:.1f}s, seed {result.seed})[/]")
    width = max(len(c.name) for c in result.checks)  # the points in one column, however long a name
    for c in result.checks:
        mark = "[green]✓[/]" if c.passed else "[red]✗[/]"
        out.print(f" {mark} {c.name:<{width}}  {c.score:>2}/{c.points}")
        if not c.passed:  # indented, so that wrapped lines stay under their check
            out.print(Padding(Text(c.message), (0, 0, 0, 5), expand=False))
    passed = sum(c.passed for c in result.checks)
    colour = "green" if result.passed else "red"
    out.print(f"[bold {colour}]score {result.score}/{result.max_score}[/] · {passed} of {plural(len(result.checks), 'check')} pass")
