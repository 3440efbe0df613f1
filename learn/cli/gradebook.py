"""`learn gradebook`: grade a class's submissions on the ready stages, into a CSV and reports.

    learn gradebook submissions/                        # gradebook.csv, every ready stage
    learn gradebook submissions/ --stages 1-3 -j 4 --details reports/ --gradescope results/

SUBMISSIONS holds one folder or .zip per student (learn/judge/submissions.py): `dave/` is
dave, `dave.zip` dave too unless that names another entry (ignoring case), when it keeps its
whole name; a submission holding a FIFO, socket, device or a link out of it is refused with a
note and scores 0. In a course
checkout the grading uses a release built for the run (learn/release.py: the checks, fixtures and
engine a learner gets, and no solutions/ beside the grader); in a release, the release itself.
Each submission is graded by one judge over all its stages, `-j` of them at once
(learn/judge/gradebook.py). Rows are cached beside the CSV (in a folder of the grader's alone) by
the hash of every file a worker gets and the course version: a re-run grades only what changed,
a stopped run resumes.

Outputs: the CSV (one row per student, one column per stage, total, course version, note), with
--details one JSON report per student (every check's message, to hand back), with --gradescope
one results.json per student in Gradescope's format, and, where two students' stage files are
identical (or identical without comments and whitespace), a flags report beside the CSV: never
part of a grade. Two students whose names differ only in case get files apart (carol.zip~2.json).
Every output is written through a new file made exclusively and renamed into place; one that is
there as a link or anything but a plain file is refused before grading, for a student's process
may have put it there.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from learn import ROOT
from learn.cli.console import err, load_course, out, plural, say_containment, tell, usage_error
from learn.manifest import Stage


def gradebook(
    submissions: Path = typer.Argument(..., metavar="SUBMISSIONS", help="A folder holding one folder or .zip per student."),
    csv_path: Path = typer.Option(Path("gradebook.csv"), "--out", metavar="CSV", help="Where to write the CSV."),
    details: Optional[Path] = typer.Option(None, "--details", metavar="FOLDER", help="Also write <student>.json here: every check's result and message, to hand back. Made if missing."),
    gradescope: Optional[Path] = typer.Option(None, "--gradescope", metavar="FOLDER", help="Also write <student>/results.json here, in Gradescope's autograder format. Made if missing."),
    stage_range: Optional[str] = typer.Option(None, "--stages", metavar="RANGE", help="The stages to grade: 1-3, or 1,2,4 (default: every ready stage)."),
    jobs: int = typer.Option(os.cpu_count() or 1, "--jobs", "-j", metavar="N", min=1, help="Submissions graded at once (default: the CPU cores)."),
    fresh: bool = typer.Option(False, "--fresh", help="Grade everything again, ignoring the rows kept from earlier runs."),
    as_json: bool = typer.Option(False, "--json", help="Print every row as one JSON object instead of a table."),
):  # fmt: skip
    """Grade every submission in a folder; write a CSV gradebook (and reports to hand back)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from learn import files
    from learn.judge import submissions as found
    from learn.judge.gradebook import NotOurs, Row, check_output, grade_class, own_folder, write_atomically
    from learn.judge.reports import gradescope as results_json
    from learn.judge.reports import identical_work

    if not submissions.is_dir():
        raise usage_error(escape(f"{submissions}: no such folder; give the folder that holds the students' folders or zips"))
    course = load_course()
    stages = _pick_stages(stage_range, course)
    for folder in (csv_path.parent, details, gradescope):
        try:
            if folder is not None:
                folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise usage_error(escape(f"cannot make the folder {folder} to write into ({e.strerror or e})")) from None
    if csv_path.is_dir():
        raise usage_error(escape(f"--out {csv_path} is a folder; name the CSV to write, e.g. --out {csv_path / 'gradebook.csv'}"))
    cache = None if fresh else csv_path.parent / f".{csv_path.stem}-cache"
    flags_path = csv_path.with_name(f"{csv_path.stem}-flags.json")

    say_containment()
    with tempfile.TemporaryDirectory(prefix="learn-gradebook-") as tmp:
        subs = found.find(submissions, course, Path(tmp) / "unzipped")
        if not subs:
            raise usage_error(escape(f"{submissions} holds no submission (a folder or a .zip per student)"))
        try:  # before any grading: what a student's process may have put where the outputs go
            for path, folder in _outputs(csv_path, flags_path, [s.file for s in subs], details, gradescope):
                check_output(path, folder)
            if cache is not None:
                own_folder(cache)
        except NotOurs as e:
            raise usage_error(escape(str(e))) from None
        root = _grading_root(Path(tmp) / "release")
        columns = ["student", *(s.id for s in stages), "total", "course_version", "note"]
        rows: list[Row] = []
        # Rows are appended as each submission's grading ends, so that a run stopped midway keeps
        # them; the finished CSV is then rewritten in student order, atomically.
        try:
            f = io.TextIOWrapper(files.fresh(csv_path), encoding="utf-8", newline="")
        except OSError as e:
            raise usage_error(escape(f"--out {csv_path}: cannot write it ({e.strerror or e})")) from None
        with f:
            writer = csv.writer(f)
            writer.writerow(columns)
            columns_shown = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
            with Progress(*columns_shown, console=err, transient=True, disable=as_json) as bar:
                task = bar.add_task(f"grading {plural(len(subs), 'submission')} on {', '.join(s.id for s in stages)}", total=len(subs))

                def on_row(row: Row) -> None:
                    writer.writerow(_csv_row(row))
                    f.flush()
                    done.append(row)
                    bar.advance(task)

                done: list[Row] = []
                try:
                    rows = grade_class(subs, stages, root=root, jobs=jobs, cache=cache, on_row=on_row)
                except KeyboardInterrupt:
                    _stopped(len(done), len(subs), csv_path, tmp)
        buffer = io.StringIO()
        csv.writer(buffer).writerows([columns, *(_csv_row(r) for r in rows)])
        flags = identical_work({s.name: s.tree for s in subs if s.tree is not None}, stages, root / "pristine" if (root / "pristine").is_dir() else root / "stages")
        try:
            write_atomically(csv_path, buffer.getvalue())
            for sub, row in zip(subs, rows):
                if details is not None:
                    write_atomically(details / f"{sub.file}.json", json.dumps(row.to_json(), indent=1) + "\n")
                if gradescope is not None:
                    (gradescope / sub.file).mkdir(exist_ok=True)
                    check_output(gradescope / sub.file, folder=True)
                    scope = results_json(row.stages, stages, row.version)
                    write_atomically(gradescope / sub.file / "results.json", json.dumps(scope) + "\n")
            if flags:
                write_atomically(flags_path, json.dumps(flags, indent=1) + "\n")
            elif flags_path.exists():
                flags_path.unlink()  # a flag from an earlier run of this class no longer holds
        except NotOurs as e:
            raise usage_error(escape(str(e))) from None

    if as_json:
        print(json.dumps({"rows": [{**r.to_json(), "cached": r.cached} for r in rows], "identical_work": flags}))
        return
    header = ["student", *(f"{s.id} (/{s.max_score})" for s in stages), f"total (/{sum(s.max_score for s in stages)})", "note"]
    table = Table(*header, title="Gradebook")
    for row in rows:
        table.add_row(escape(row.student), *(str(r["score"]) for r in row.stages), str(row.total), escape(_note(row)))
    out.print(table)
    cached = sum(r.cached for r in rows)
    wrote = [str(csv_path)] + ([f"one report per student in {details}"] if details else []) + ([f"results.json per student in {gradescope}"] if gradescope else [])
    tell(escape(f"wrote {' and '.join(wrote)}") + (f" ({cached} unchanged since the last run)" if cached else ""))
    if flags:
        out.print(f"[yellow]{plural(len(flags), 'group')} of identical work[/] listed in {escape(str(flags_path))} (not part of any grade)")


def _stopped(graded: int, total: int, csv_path: Path, tmp: str) -> None:
    """Ctrl-C: keep what is graded (the rows are in the CSV and the cache) and leave at once. The
    judges still running die with this process (learn/judge/reaper.py, die_with_parent)."""
    err.print(f"[yellow]stopped:[/] {graded} of {plural(total, 'submission')} graded; their rows are in "
              f"{escape(str(csv_path))}. Run the same command again to grade the rest.")  # fmt: skip
    shutil.rmtree(tmp, ignore_errors=True)
    os._exit(130)


def _outputs(csv_path: Path, flags_path: Path, students: list[str], details, gradescope) -> list[tuple[Path, bool]]:
    """(path, is a folder) of every file the gradebook writes, and of the folders it makes for them."""
    reports = [(details / f"{s}.json", False) for s in students] if details is not None else []
    scope = [(gradescope / s, True) for s in students] if gradescope is not None else []
    results = [(folder / "results.json", False) for folder, _ in scope]
    return [(csv_path, False), (flags_path, False), *reports, *scope, *results]


def _pick_stages(text: Optional[str], course: list[Stage]) -> list[Stage]:
    """--stages 1-3 or 1,2,4 (stage ids work too); default every ready stage."""
    ready = [s for s in course if s.ready]
    if text is None:
        return ready
    from learn import manifest

    chosen: list[Stage] = []
    for part in text.split(","):
        m = re.fullmatch(r"\s*(?:stage)?(\d+)\s*-\s*(?:stage)?(\d+)\s*", part)
        names = [str(n) for n in range(int(m[1]), int(m[2]) + 1)] if m else [part.strip()]
        for name in names:
            try:
                stage = manifest.find(name, course)
            except manifest.UnknownStage as e:
                raise usage_error(escape(f"--stages {text}: {e}")) from None
            if not stage.ready:
                raise usage_error(escape(f"--stages {text}: {stage.id} is not ready in this release; ready: {', '.join(s.id for s in ready)}"))
            if stage not in chosen:
                chosen.append(stage)
    if not chosen:
        raise usage_error("--stages names no stage; e.g. --stages 1-3")
    return sorted(chosen, key=lambda s: s.number)


def _grading_root(where: Path) -> Path:
    """The course whose checks and fixtures grade: a release built from this checkout, or this
    course itself when it is a release (no solutions/ to keep away from the grader)."""
    if not (ROOT / "solutions").is_dir():
        return ROOT
    from learn.release import ReleaseError, build

    with err.status("building the student edition to grade with..."):
        try:
            build(where)
        except ReleaseError as e:
            raise usage_error(escape(f"cannot build the release to grade with: {e}")) from None
    return where


def _note(row) -> str:
    notes = [row.note] if row.note else []
    levels = sorted({r["containment"]["level"] for r in row.stages if type(r.get("containment")) is dict})
    notes += [f"containment {level}" for level in levels if level != "sandbox"]  # learn/judge/bwrap.py
    notes += [f"{r['stage']}: grader error: {r['grader_error']}" for r in row.stages if "grader_error" in r]
    return "; ".join(notes)


def _csv_row(row) -> list:
    return [row.student, *(r["score"] for r in row.stages), row.total, row.version, _note(row)]
