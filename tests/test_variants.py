"""A second, independently written correct implementation of each stage passes every check:
the checks grade behaviour, not our way of writing it."""

from __future__ import annotations

import shutil

import pytest

from conftest import VARIANTS, copy_solutions, ready_stages
from learn.judge.grader import grade


@pytest.mark.parametrize("stage", ready_stages(), ids=lambda s: s.id)
def test_variant_passes_every_check(stage, tmp_path):
    overlay = VARIANTS / stage.package / stage.package
    assert overlay.is_dir(), f"no variant for {stage.id} in {overlay}"
    tree = copy_solutions(tmp_path)
    shutil.rmtree(tree / stage.package)
    shutil.copytree(overlay, tree / stage.package)
    result = grade(stage, tree)
    failed = {c.name: c.message for c in result.checks if not c.passed}
    assert not failed, failed
