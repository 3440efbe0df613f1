"""A second, independently written correct implementation of each stage passes every check:
the checks grade behaviour, not our way of writing it.

The variants are graded together, in one tree and one judge (as `learn gradebook` grades a
submission): each is correct, so they may build on one another (stage 4's variant model on stage
3's variant attention), which proves a little more than each beside the reference would.
"""

from __future__ import annotations

import shutil

import pytest

from conftest import VARIANTS, copy_solutions, ready_stages
from learn.judge.grader import grade_stages


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict:
    tree = copy_solutions(tmp_path_factory.mktemp("variants"))
    stages = [s for s in ready_stages() if (VARIANTS / s.package / s.package).is_dir()]
    for stage in stages:
        shutil.rmtree(tree / stage.package)
        shutil.copytree(VARIANTS / stage.package / stage.package, tree / stage.package)
    return {r.stage: r for r in grade_stages(stages, tree)}


@pytest.mark.parametrize("stage", ready_stages(), ids=lambda s: s.id)
def test_variant_passes_every_check(stage, graded):
    assert (VARIANTS / stage.package / stage.package).is_dir(), f"no variant for {stage.id} in {VARIANTS / stage.package}"
    failed = {c.name: c.message for c in graded[stage.id].checks if not c.passed}
    assert not failed, failed
