"""`learn status`: every stage with its state, its score and what to run next."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from learn.cli.console import load_course, load_progress, next_step, out

STATE_STYLE = {"passed": "green", "open": "yellow", "locked": "dim", "coming": "dim italic"}


def status(as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of a table.")):
    """Every stage with its state (locked / open / passed / coming), its score and what to run next."""
    course, prog = load_course(), load_progress()
    rows = []
    for s in course:
        rec = prog.stages.get(s.id, {})
        rows.append({
            "stage": s.id, "title": s.title, "state": prog.state(s, course),
            "score": rec.get("score"), "max_score": s.max_score if s.ready else None,
        })  # fmt: skip
    nxt = next_step(prog, course)
    if as_json:
        print(json.dumps({"stages": rows, "next": nxt}))
        return
    table = Table(title="Build a GPT from scratch", title_style="bold")
    for col in ("stage", "title", "state", "score"):
        table.add_column(col)
    for r in rows:
        score = f"{r['score']}/{r['max_score']}" if r["score"] is not None else ""
        style = STATE_STYLE[r["state"]]
        table.add_row(r["stage"], r["title"], f"[{style}]{r['state']}[/]", f"[{style}]{score}[/]")
    out.print(table)
    out.print(f"next: [bold]{nxt}[/]")
