"""The pytest plugin of the judge process (never of the CLI's own process, never of a worker).

The grader starts `python -m pytest -p learn.judge.plugin -s ...` over checks/<package>/. This
plugin
  * makes the judge hard to reach from the learner's code: a subreaper, not dumpable (reaper.py),
  * takes the report channel for itself: the original stdout, which no worker inherits; pytest's
    own output goes to stderr (the grader's log),
  * starts the stage's worker at once (learn/judge/workers.py), so that it imports torch while
    pytest collects the checks,
  * gives each check its time from curriculum.toml, spent only while the learner's code runs,
  * writes one JSON line per event: {"event": "start", "name"} then {"event": "end", "name",
    "passed", "message", "kind"}; kind says what failed: "check" (a wrong answer), "probe" (the
    learner's code raised), "import", "timeout", "crash", "judge" (an answer the judge could not
    read), or "internal" (the grader itself could not work: never the learner's doing).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from learn import manifest
from learn.judge import checking, reaper
from learn.judge.workers import ProbeFailed, Workers
from learn.worker.sandbox import Limits

MESSAGE_CAP = 4000  # characters of a check's message


def pytest_addoption(parser):
    group = parser.getgroup("learn")
    group.addoption("--learn-stage", help="the stage being graded, e.g. stage1")
    group.addoption("--learn-tree", help="the tree whose code the worker runs")
    group.addoption("--learn-seed", type=int, default=0, help="the run's seed (inputs drawn at grading time)")
    group.addoption("--learn-skip", default="", help="comma-separated checks already graded")


_report = None
_stage: manifest.Stage | None = None
_workers: Workers | None = None


def _write(**record) -> None:
    if _report is not None:
        _report.write(json.dumps(record) + "\n")
        _report.flush()


def pytest_configure(config):
    global _report, _stage, _workers
    stage_id = config.getoption("--learn-stage")
    if not stage_id:
        return
    reaper.guard_this_process()
    _report = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # pytest's own output joins stderr, the grader's log
    _stage = manifest.find(stage_id)
    checking._state["seed"] = config.getoption("--learn-seed")
    limits = Limits(address_space=_stage.memory_mb * 2**20, cpu_seconds=int(sum(c.timeout for c in _stage.checks)) + 60)
    _workers = Workers(_stage.package, Path(config.getoption("--learn-tree")), limits)
    checking._state["workers"] = _workers


def pytest_unconfigure(config):
    if _workers is not None:
        _workers.close()


def _check_name(item) -> str:
    return item.originalname.removeprefix("test_")


def pytest_collection_modifyitems(config, items):
    if _stage is None:
        return
    skip = set(filter(None, config.getoption("--learn-skip").split(",")))
    items[:] = [item for item in items if _check_name(item) not in skip]


def pytest_collectreport(report):
    if report.failed:
        _write(event="collect_error", message=str(report.longrepr)[-MESSAGE_CAP:])


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item, nextitem):
    if _stage is None:
        return
    name = _check_name(item)
    check = next((c for c in _stage.checks if c.name == name), None)
    checking._state.update(check=name, seconds=check.timeout if check else 10.0)
    _write(event="start", name=name)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call" or (report.when != "call" and report.failed):
        message, kind = ("", "") if report.passed else _explain(call.excinfo)
        _write(event="end", name=_check_name(item), passed=report.passed, message=message[:MESSAGE_CAP], kind=kind)
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
