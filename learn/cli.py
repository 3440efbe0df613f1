"""The `learn` command: status, lesson, check, reset.

Exit codes: 0 success (every check passed), 1 some check failed, 2 usage error or locked stage,
3 the grader itself failed (its log is written to .learn/logs/; never the learner's doing).
Start-up stays light: nothing here imports torch; the checks run in a separate process.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markdown import Markdown
from rich.markup import escape
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from learn import ROOT, manifest, progress
from learn.manifest import Stage
from learn.show import show_app

app = typer.Typer(
    help="Build a GPT from scratch, one graded stage at a time.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(show_app, name="show", help="Draw what your code computes, e.g. `learn show attention \"a sentence\"`.")
out = Console(highlight=False)
err = Console(stderr=True, highlight=False, soft_wrap=True)  # one message, one line

#: The tree graded by default and the one whose passes unlock stages: the course's stages/.
DEFAULT_TREE = ROOT / "stages"

STATE_STYLE = {"passed": "green", "open": "yellow", "locked": "dim", "coming": "dim italic"}


def usage_error(message: str) -> typer.Exit:
    """One line on stderr and exit code 2: for bad input and locked stages."""
    err.print(f"[bold red]error:[/] {message}")
    return typer.Exit(2)


def _course() -> list[Stage]:
    try:
        return manifest.load()
    except FileNotFoundError:
        raise usage_error(f"no curriculum.toml in {ROOT}: install the course from its folder with `pip install -e .`") from None
    except (OSError, manifest.ManifestError) as e:
        raise usage_error(f"cannot read the course manifest: {e}") from None


def _stage(name: str, course: list[Stage], prog: progress.Progress | None = None) -> Stage:
    """The stage named on the command line; with `prog`, refuse it while it is locked."""
    try:
        stage = manifest.find(name, course)
    except manifest.UnknownStage as e:
        raise usage_error(str(e)) from None
    blocker = prog.blocker(stage, course) if prog is not None else None
    if blocker is not None:
        raise usage_error(f"{stage.id} is locked: pass {blocker.id} ({blocker.title}) first, with `learn check {blocker.id}`")
    if not stage.ready:
        raise usage_error(f"{stage.id} ({stage.title}) is coming in a later release; `learn status` shows what is ready")
    return stage


def _progress() -> progress.Progress:
    prog = progress.load()
    if prog.warning:
        err.print(f"[yellow]warning:[/] {prog.warning}")
    return prog


def _tree(impl: Optional[str], stage: Stage) -> Path:
    if impl is None:
        if not (DEFAULT_TREE / stage.package).is_dir():
            raise usage_error(f"stages/{stage.package}/ is missing; `learn reset {stage.id}` restores its skeleton")
        return DEFAULT_TREE
    path = Path(impl).expanduser()
    if not path.exists() and not path.is_absolute() and (ROOT / path).exists():
        path = ROOT / path  # `--impl solutions` works from any folder
    if not path.is_dir():
        raise usage_error(f"--impl {impl}: no such folder; give a tree, a folder holding the stage packages")
    if not (path / stage.package).is_dir():
        raise usage_error(f"--impl {impl}: holds no {stage.package}/ folder; a tree holds the stage packages")
    return path.resolve()


def _next_step(prog: progress.Progress, course: list[Stage]) -> str:
    for s in course:
        state = prog.state(s, course)
        if state == "open":
            return f"learn lesson {s.id}   then   learn check {s.id}"
        if state == "coming":
            return f"every ready stage has passed; {s.id} ({s.title}) is coming next"
    return "every stage has passed: congratulations!"


@app.command()
def status(as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of a table.")):
    """Every stage with its state (locked / open / passed / coming), its score and what to run next."""
    course, prog = _course(), _progress()
    rows = []
    for s in course:
        rec = prog.stages.get(s.id, {})
        rows.append({
            "stage": s.id, "title": s.title, "state": prog.state(s, course),
            "score": rec.get("score"), "max_score": s.max_score if s.ready else None,
        })  # fmt: skip
    nxt = _next_step(prog, course)
    if as_json:
        print(json.dumps({"stages": rows, "next": nxt}))
        return
    table = Table(title="Build a GPT from scratch", title_style="bold")
    for col in ("stage", "title", "state", "score"):
        table.add_column(col)
    for r in rows:
        score = f"{r['score']}/{r['max_score']}" if r["score"] is not None else ""
        style = STATE_STYLE[r["state"]]
        table.add_row(r["stage"], r["title"], f"[{style}]{r['state']}[/]", score)
    out.print(table)
    out.print(f"next: [bold]{nxt}[/]")


@app.command()
def lesson(stage_name: str = typer.Argument(..., metavar="STAGE", help="stage3, or just 3")):
    """Show a stage's lesson and the files you edit for it."""
    course = _course()
    stage = _stage(stage_name, course)
    out.print(Markdown(stage.lesson_path.read_text(encoding="utf-8")))
    out.rule()
    out.print("[bold]Files to edit:[/]")
    for f in stage.files:
        out.print(f"  stages/{stage.package}/{f}")
    out.print(f"[bold]Then run:[/] learn check {stage.id}")


@app.command()
def check(
    stage_name: str = typer.Argument(..., metavar="STAGE", help="stage3, or just 3"),
    impl: Optional[str] = typer.Option(None, "--impl", help="Grade this tree instead of stages/ (e.g. solutions, or a student's folder). Ignores locks and records nothing."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of a report."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Replay a run: the seed its report shows (inputs are drawn from it)."),
):  # fmt: skip
    """Run a stage's graded checks. A pass on your stages/ unlocks the next stage."""
    from learn.judge.grader import GraderError, grade

    course = _course()
    prog = _progress() if impl is None else None  # --impl runs ignore locks and record nothing
    stage = _stage(stage_name, course, prog)
    tree = _tree(impl, stage)
    try:
        if as_json:
            result = grade(stage, tree, seed)
        else:
            with err.status(f"grading {stage.id} ({len(stage.checks)} checks)..."):
                result = grade(stage, tree, seed)
    except GraderError as e:
        log = progress.path().parent / "logs" / f"grader-{time.strftime('%Y%m%d-%H%M%S')}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(f"{e}\n\n{e.log}\n", encoding="utf-8")
        err.print(f"[bold red]grader error:[/] {escape(str(e).splitlines()[0])} (details in {escape(str(log))}; please report it)")
        raise typer.Exit(3) from None
    if prog is not None:
        prog.record(stage.id, result.passed, result.score, result.max_score)
        progress.save(prog)
    if as_json:
        print(json.dumps(result.to_json()))
    else:
        _print_result(stage, tree, result, course, unlocked=prog is not None and result.passed)
    raise typer.Exit(0 if result.passed else 1)


def _print_result(stage: Stage, tree: Path, result, course: list[Stage], unlocked: bool) -> None:
    where = tree.relative_to(ROOT) if tree.is_relative_to(ROOT) else tree
    out.print(f"[bold]{stage.id} · {stage.title}[/]   [dim]tree: {escape(str(where))}/  ({result.seconds:.1f}s, seed {result.seed})[/]")
    for c in result.checks:
        mark = "[green]✓[/]" if c.passed else "[red]✗[/]"
        out.print(f" {mark} {c.name:<34} {c.score:>2}/{c.points}")
        if not c.passed:  # indented, so that wrapped lines stay under their check
            out.print(Padding(Text(c.message), (0, 0, 0, 5), expand=False))
    passed = sum(c.passed for c in result.checks)
    colour = "green" if result.passed else "red"
    out.print(f"[bold {colour}]score {result.score}/{result.max_score}[/] · {passed} of {len(result.checks)} checks pass")
    if unlocked:
        nxt = course[stage.number] if stage.number < len(course) else None
        if nxt is not None and nxt.ready:
            out.print(f"[green]{stage.id} passed: {nxt.id} ({nxt.title}) is open.[/] Next: learn lesson {nxt.id}")
        else:
            out.print(f"[green]{stage.id} passed.[/]")


@app.command()
def reset(
    stage_name: str = typer.Argument(..., metavar="STAGE", help="stage3, or just 3"),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask."),
):
    """Restore a stage's skeleton files in stages/, keeping a backup of yours."""
    from learn.skeleton import pristine_files

    course = _course()
    stage = _stage(stage_name, course)
    try:
        files = pristine_files(stage)
    except FileNotFoundError as e:
        raise usage_error(f"{e}; use `git checkout -- stages/{stage.package}` to restore the files") from None
    dest = DEFAULT_TREE / stage.package
    changed = [rel for rel, text in files.items()
               if not (dest / rel).is_file() or (dest / rel).read_text(encoding="utf-8") != text]  # fmt: skip
    if not changed:
        out.print(f"stages/{stage.package}/ is already the untouched skeleton")
        return
    if not yes and not typer.confirm(f"Restore {', '.join(changed)} in stages/{stage.package}/ to the skeleton?"):
        raise typer.Exit(1)
    backup = progress.path().parent / "backup" / f"{stage.id}-{time.strftime('%Y%m%d-%H%M%S')}"
    for rel in changed:
        target = dest / rel
        if target.exists():
            (backup / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(target, backup / rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(files[rel], encoding="utf-8")
    kept = f"; your previous version is in {backup}" if backup.exists() else ""
    out.print(f"restored {len(changed)} file(s){kept}")


@app.command()
def gradebook(
    submissions: Path = typer.Argument(..., help="A folder holding one tree (folder of stage packages) per student."),
    csv_path: Path = typer.Option(Path("gradebook.csv"), "--out", help="Where to write the CSV."),
    details: Optional[Path] = typer.Option(None, "--details", help="Also write <student>.json here: every check's result and message, to hand back."),
    jobs: int = typer.Option(2, "--jobs", "-j", min=1, help="Submissions graded at once."),
):  # fmt: skip
    """Grade every submission in a folder on every ready stage; write a CSV gradebook."""
    import csv
    from concurrent.futures import ThreadPoolExecutor, as_completed

    from rich.progress import Progress

    from learn.judge.grader import grade

    if not submissions.is_dir():
        raise usage_error(f"{submissions}: no such folder; give the folder that holds the students' trees")
    students = sorted(p for p in submissions.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not students:
        raise usage_error(f"{submissions} holds no submission folders")
    for folder in (csv_path.parent, details):
        if folder is not None and not folder.is_dir():
            raise usage_error(f"{folder}: no such folder to write into")
    stages = [s for s in _course() if s.ready]

    def result(student: Path, stage: Stage) -> dict:
        if not (student / stage.package).is_dir():  # missing: 0, without starting a process
            return {"stage": stage.id, "score": 0, "max_score": stage.max_score, "missing": True}
        try:
            return grade(stage, student).to_json()
        except Exception as e:  # the grader's own failure: this student still gets a row, marked
            return {"stage": stage.id, "score": 0, "max_score": stage.max_score, "grader_error": str(e).splitlines()[0]}

    def row(student: Path) -> list:
        got = [results[(student.name, s.id)] for s in stages]
        note = "; ".join(f"{r['stage']}: grader error: {r['grader_error']}" for r in got if "grader_error" in r)
        return [student.name, *(r["score"] for r in got), sum(r["score"] for r in got), note]

    columns = ["student", *(s.id for s in stages), "total", "note"]
    results: dict[tuple[str, str], dict] = {}
    left = {st.name: len(stages) for st in students}
    # Rows are appended as each student's grading ends, so that a run stopped midway keeps them;
    # the finished CSV is then rewritten in student order, atomically.
    with open(csv_path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        with Progress(console=err, transient=True) as bar, ThreadPoolExecutor(jobs) as pool:
            task = bar.add_task(f"grading {len(students)} submissions", total=len(students) * len(stages))
            futures = {pool.submit(result, st, sg): (st, sg) for st in students for sg in stages}
            for future in as_completed(futures):
                student, stage = futures[future]
                results[(student.name, stage.id)] = future.result()
                left[student.name] -= 1
                if left[student.name] == 0:
                    writer.writerow(row(student))
                    f.flush()
                bar.advance(task)
    tmp = csv_path.with_name(csv_path.name + ".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([columns, *(row(st) for st in students)])
    tmp.replace(csv_path)

    header = ["student", *(f"{s.id} (/{s.max_score})" for s in stages), f"total (/{sum(s.max_score for s in stages)})"]
    table = Table(*header, title="Gradebook")
    for st in students:
        name, *scores, _note = row(st)
        table.add_row(name, *map(str, scores))
        if details is not None:
            report = {"student": st.name, "stages": [results[(st.name, s.id)] for s in stages]}
            (details / f"{st.name}.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    out.print(table)
    out.print(f"wrote {csv_path}" + (f" and one report per student in {details}" if details else ""))


def main() -> None:  # `python -m learn`
    app()
