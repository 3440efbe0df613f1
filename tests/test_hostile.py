"""Learner code that hangs or kills its process is graded as failed, in bounded time, and the
other checks still report."""

from __future__ import annotations

import time

import pytest

from conftest import copy_solutions
from learn import manifest
from learn.judge.grader import grade

STAGE1 = manifest.find("stage1")
BPE = "stage1_tokenizer/bpe.py"


def _tree(tmp_path, prepend="", replace=None):
    """The solution, with `prepend` run first at import, or one snippet of bpe.py replaced."""
    tree = copy_solutions(tmp_path)
    init = tree / "stage1_tokenizer" / "__init__.py"
    init.write_text(prepend + init.read_text())
    if replace:
        path, (old, new) = tree / BPE, replace
        assert path.read_text().count(old) == 1
        path.write_text(path.read_text().replace(old, new))
    return tree


@pytest.mark.parametrize(
    ("prepend", "words"),
    [
        ("import os\nos._exit(0)\n", "ended the grading process"),
        ("import sys\nsys.exit(3)\n", "sys.exit(3)"),
        ("raise RuntimeError('boom at import')\n", "RuntimeError: boom at import"),
        ("def broken(:\n", "SyntaxError: invalid syntax (at stage1_tokenizer/__init__.py:1)"),
    ],
    ids=["os_exit", "sys_exit", "raises", "syntax_error"],
)
def test_broken_import_fails_every_check_with_a_clear_message(tmp_path, prepend, words):
    start = time.monotonic()
    result = grade(STAGE1, _tree(tmp_path, prepend=prepend))
    assert time.monotonic() - start < 60
    assert not any(c.passed for c in result.checks)
    for c in result.checks:
        assert words in c.message, c.message


def test_crash_inside_one_function_fails_only_the_checks_that_reach_it(tmp_path):
    crash = ("    # BEGIN SOLUTION: count each adjacent", "    import os; os._exit(1)\n    # BEGIN SOLUTION: count each adjacent")
    result = grade(STAGE1, _tree(tmp_path, replace=crash))
    by_name = {c.name: c for c in result.checks}
    assert "ended" in by_name["get_stats_counts_adjacent_pairs"].message or "exited" in by_name["get_stats_counts_adjacent_pairs"].message
    assert by_name["merge_replaces_left_to_right"].passed  # the others still report
    assert by_name["decode_replaces_invalid_utf8"].passed


def test_hang_at_import_is_failed_within_the_timeout(tmp_path):
    start = time.monotonic()
    result = grade(STAGE1, _tree(tmp_path, prepend="while True:\n    pass\n"))
    elapsed = time.monotonic() - start
    assert not any(c.passed for c in result.checks)
    assert all("timed out" in c.message.lower() or "timeout" in c.message.lower() for c in result.checks), result.checks[0].message
    # One check's timeout, then every other check fails at once on the remembered import error.
    assert elapsed < STAGE1.checks[0].timeout + 30
