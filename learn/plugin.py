"""The pytest plugin that runs inside the grading process (never in the CLI's own process).

The grader starts `python -m pytest -p learn.plugin ...` with the graded tree first on the import
path. This plugin
  * gives each check the timeout written in curriculum.toml,
  * provides the `learner` fixture: the learner's package for the stage, imported inside a check so
    that a hang or a crash at import is a failed check, not a dead grader,
  * appends one JSON line per event to the file named by --learn-report, flushed at once, so that
    the grader can tell what happened even if the learner's code kills this process.
"""

from __future__ import annotations

import importlib
import json
import os

import pytest

from learn import manifest
from learn.isolation import explain, where


def pytest_addoption(parser):
    group = parser.getgroup("learn")
    group.addoption("--learn-stage", help="the stage being graded, e.g. stage1")
    group.addoption("--learn-report", help="JSON-lines file the grader reads")
    group.addoption("--learn-skip", default="", help="comma-separated checks already graded")


class _Reporter:
    def __init__(self, path):
        self._f = open(path, "a", encoding="utf-8")

    def write(self, **record):
        self._f.write(json.dumps(record) + "\n")
        self._f.flush()
        os.fsync(self._f.fileno())


_reporter: _Reporter | None = None
_stage: manifest.Stage | None = None
_import_error: str | None = None  # set once importing the learner's package failed


def pytest_configure(config):
    global _reporter, _stage
    stage_id = config.getoption("--learn-stage")
    if stage_id:
        _stage = manifest.find(stage_id)
    report = config.getoption("--learn-report")
    if report:
        _reporter = _Reporter(report)


def _check_name(item) -> str:
    return item.originalname.removeprefix("test_")


def pytest_collection_modifyitems(config, items):
    skip = set(filter(None, config.getoption("--learn-skip").split(",")))
    if _stage is None:
        return
    timeouts = {c.name: c.timeout for c in _stage.checks}
    kept = []
    for item in items:
        name = _check_name(item)
        if name in skip:
            continue
        if name in timeouts:
            item.add_marker(pytest.mark.timeout(timeouts[name]))
        kept.append(item)
    items[:] = kept


def pytest_collectreport(report):
    if report.failed and _reporter:
        _reporter.write(event="collect_error", message=_short(report.longrepr))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item, nextitem):
    if _reporter:  # before setup: the `learner` fixture may be what kills the process
        _reporter.write(event="start", name=_check_name(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if _reporter is None:
        return report
    name = _check_name(item)
    if report.when == "call" or (report.when == "setup" and report.failed):
        message = "" if report.passed else _explain(call.excinfo)
        _reporter.write(event="end", name=name, passed=report.passed, message=message)
    return report


@pytest.fixture
def learner():
    """The learner's package for the stage being graded, e.g. `stage1_tokenizer`.

    Imported inside the check (not at collection) so that pytest-timeout covers a hang at import,
    and so that an import that raises fails every check with the same clear message.
    """
    global _import_error
    if _stage is None:
        pytest.fail("the `learner` fixture needs --learn-stage (run checks through `learn check`)")
    if _import_error is not None:
        pytest.fail(_import_error, pytrace=False)
    if _reporter:
        _reporter.write(event="importing")
    try:
        module = importlib.import_module(_stage.package)
    except BaseException as e:  # SystemExit and timeouts included: they are the learner's bugs
        _import_error = f"importing {_stage.package} failed: {explain(e)}"
        pytest.fail(_import_error, pytrace=False)
    if _reporter:
        _reporter.write(event="imported")
    return module


def _short(longrepr) -> str:
    text = str(longrepr).strip().splitlines()
    return "\n".join(text[-6:])


def _explain(excinfo) -> str:
    if excinfo is None:
        return "failed"
    e = excinfo.value
    if isinstance(e, AssertionError):
        return str(e).split("\nassert ")[0].strip() or "an assertion failed"
    if type(e).__name__ == "Failed":  # pytest.fail(), pytest-timeout included
        msg = str(e)
        if msg.startswith("Timeout"):
            return f"timed out: {msg.splitlines()[0]}; is a loop in your code never ending?{where(excinfo.tb)}"
        return msg
    return explain(e, excinfo.tb)
