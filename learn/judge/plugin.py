"""The pytest plugin of the judge process (never of the CLI's own process, never of a worker).

The grader starts `python -m pytest -p learn.judge.plugin -s ...` over checks/<package>/. This
plugin
  * makes the judge hard to reach from the learner's code: a subreaper, not dumpable (reaper.py),
    and ends it with its grader,
  * takes the report channel for itself: the original stdout, which no worker inherits; pytest's
    own output goes to stderr (the grader's log),
  * starts the worker at once (learn/judge/workers.py), one for every stage being graded, so
    that it imports torch while pytest collects the checks,
  * gives each check its time from curriculum.toml, spent only while the learner's code runs,
  * writes one JSON line per event: {"event": "start", "stage", "name"} then {"event": "end",
    "stage", "name", "passed", "message", "kind"}, each with "t" (time.time()), and last
    {"event": "containment", "level", "applied", "skipped"} (learn/judge/bwrap.py); kind says what failed: "check" (a wrong answer), "probe" (the
    learner's code raised), "import", "timeout", "crash", "judge" (an answer the judge could not
    read), or "internal" (the grader itself could not work: never the learner's doing).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

from learn import manifest
from learn.judge import reaper
from learn.judge.workers import ProbeFailed, Workers
from learn.shared import checking
from learn.shared.limits import Limits

MESSAGE_CAP = 4000  # characters of a check's message


def pytest_addoption(parser):
    group = parser.getgroup("learn")
    group.addoption("--learn-stages", help="the stages being graded, in course order, e.g. stage1,stage2")
    group.addoption("--learn-tree", help="the tree whose code the worker runs")
    group.addoption("--learn-seed", type=int, default=0, help="the run's seed (inputs drawn at grading time)")
    group.addoption("--learn-checks", default="", help="comma-separated stage:check left to grade; no others run")


_report = None
_tree: Path | None = None
_stages: dict[str, manifest.Stage] = {}  # package -> stage, for the stages being graded
_workers: Workers | None = None  # one worker at a time serves every stage being graded


def _write(**record) -> None:
    if _report is not None:
        _report.write(json.dumps({**record, "t": time.time()}) + "\n")
        _report.flush()


def pytest_configure(config):
    global _report, _tree, _workers
    ids = config.getoption("--learn-stages")
    if not ids:
        return
    reaper.guard_this_process()
    reaper.die_with_parent()
    _report = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # pytest's own output joins stderr, the grader's log
    course = manifest.load()
    for stage_id in ids.split(","):
        stage = manifest.find(stage_id, course)
        _stages[stage.package] = stage
    _tree = Path(config.getoption("--learn-tree"))
    checking._state["seed"] = config.getoption("--learn-seed")
    stages = list(_stages.values())
    limits = Limits(address_space=max(s.memory_mb for s in stages) * 2**20,
                    cpu_seconds=int(sum(c.timeout for s in stages for c in s.checks)) + 60)  # fmt: skip
    _workers = Workers(list(_stages), _tree, limits)  # at once: it imports torch while pytest collects


def pytest_unconfigure(config):
    if _workers is not None:
        walls = _workers.containment()
        _write(event="containment", **walls)
        print(f"containment: {walls['level']}", *(f"  applied: {x}" for x in walls["applied"]),
              *(f"  skipped: {x}" for x in walls["skipped"]), sep="\n", file=sys.stderr)  # the grader's log
        _workers.close()
    if _report is not None:  # every verdict is out: skip the interpreter's teardown of torch
        _report.flush()
        sys.stderr.flush()
        os._exit(0)


def _where(item) -> tuple[manifest.Stage | None, str]:
    """The stage of a check item (by its folder, checks/<package>/) and the check's name."""
    return _stages.get(Path(str(item.path)).parent.name), item.originalname.removeprefix("test_")


def pytest_collection_modifyitems(config, items):
    if not _stages:
        return
    left = set(filter(None, config.getoption("--learn-checks").split(",")))
    kept = []
    for item in items:
        stage, name = _where(item)
        if stage is not None and f"{stage.id}:{name}" in left:
            kept.append(item)
    items[:] = kept


def pytest_collectreport(report):
    if report.failed:
        _write(event="collect_error", message=str(report.longrepr)[-MESSAGE_CAP:])


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item, nextitem):
    stage, name = _where(item)
    if stage is None:
        return
    check = next((c for c in stage.checks if c.name == name), None)
    checking._state.update(workers=_workers, check=f"{stage.id}:{name}", seconds=check.timeout if check else 10.0)
    _write(event="start", stage=stage.id, name=name)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call" or (report.when != "call" and report.failed):
        message, kind = ("", "") if report.passed else _explain(call.excinfo)
        stage, name = _where(item)
        _write(event="end", stage=stage.id if stage else "", name=name, passed=report.passed,
               message=message[:MESSAGE_CAP], kind=kind)  # fmt: skip
    return report


def _explain(excinfo) -> tuple[str, str]:
    """(message, kind) for a failed check."""
    if excinfo is None:
        return "failed", "internal"
    e = excinfo.value
    if isinstance(e, ProbeFailed):
        return str(e), e.kind
    if isinstance(e, AssertionError):  # expect(): a wrong answer
        return str(e).split("\nassert ")[0].strip() or "an assertion failed", "check"
    # An exception in the judge's own code: the answer was malformed in a way no expect() caught,
    # or the grader has a bug. Either way the check fails; the sentence says which to suspect.
    return (f"the grader could not judge your code's answer ({type(e).__name__}: {e}); "
            "if you believe your code is right, please report this"), "judge"  # fmt: skip
