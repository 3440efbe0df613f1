"""`learn gradebook`: grade a folder of submissions on every ready stage, into a CSV."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from learn.cli.console import err, load_course, out, plural, usage_error
from learn.manifest import Stage


def gradebook(
    submissions: Path = typer.Argument(..., metavar="SUBMISSIONS", help="A folder holding one tree (folder of stage packages) per student."),
    csv_path: Path = typer.Option(Path("gradebook.csv"), "--out", metavar="CSV", help="Where to write the CSV."),
    details: Optional[Path] = typer.Option(None, "--details", metavar="FOLDER", help="Also write <student>.json here: every check's result and message, to hand back. Made if missing."),
    jobs: int = typer.Option(2, "--jobs", "-j", metavar="N", min=1, help="Submissions graded at once."),
):  # fmt: skip
    """Grade every submission in a folder on every ready stage; write a CSV gradebook."""
    import csv
    from concurrent.futures import ThreadPoolExecutor, as_completed

    from rich.progress import Progress

    from learn.grader import grade

    if not submissions.is_dir():
        raise usage_error(f"{submissions}: no such folder; give the folder that holds the students' trees")
    students = sorted(p for p in submissions.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not students:
        raise usage_error(f"{submissions} holds no submission folders")
    for folder in (csv_path.parent, details):
        try:
            if folder is not None:
                folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise usage_error(escape(f"cannot make the folder {folder} to write into ({e.strerror or e})")) from None
    stages = [s for s in load_course() if s.ready]

    def result(student: Path, stage: Stage) -> dict:
        if not (student / stage.package).is_dir():  # missing: 0, without starting a process
            return {"stage": stage.id, "score": 0, "max_score": stage.max_score, "missing": True}
        return grade(stage, student).to_json()

    results: dict[tuple[str, str], dict] = {}
    with Progress(console=err, transient=True) as bar, ThreadPoolExecutor(jobs) as pool:
        task = bar.add_task(f"grading {plural(len(students), 'submission')}", total=len(students) * len(stages))
        futures = {pool.submit(result, st, sg): (st.name, sg.id) for st in students for sg in stages}
        for future in as_completed(futures):
            results[futures[future]] = future.result()
            bar.advance(task)

    header = ["student", *(f"{s.id} (/{s.max_score})" for s in stages), f"total (/{sum(s.max_score for s in stages)})"]
    table = Table(*header, title="Gradebook")
    with open(csv_path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["student", *(s.id for s in stages), "total"])
        for st in students:
            row = [results[(st.name, s.id)]["score"] for s in stages]
            writer.writerow([st.name, *row, sum(row)])
            table.add_row(st.name, *map(str, row), str(sum(row)))
            if details is not None:
                report = {"student": st.name, "stages": [results[(st.name, s.id)] for s in stages]}
                (details / f"{st.name}.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    out.print(table)
    out.print(f"wrote {csv_path}" + (f" and one report per student in {details}" if details else ""))
