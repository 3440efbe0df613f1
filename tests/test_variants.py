"""A second, independently written correct implementation of each stage passes every check:
the checks grade behaviour, not our way of writing it. So does each stage written the way the
book writes it (tests/book), for the book's published code is the code learners write most.

Each tree is graded together, in one judge (as `learn gradebook` grades a submission): each stage
is correct, so they may build on one another (stage 4's variant model on stage 3's variant
attention), which proves a little more than each beside the reference would.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import BOOK, VARIANTS, overlaid, ready_stages
from learn.judge.grader import grade_stages

pytestmark = pytest.mark.xdist_group("variants")  # one test worker runs them all: they share `graded`
TREES = {"variants": VARIANTS, "book": BOOK}


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict:
    """Tree name -> stage id -> StageResult; both trees at once, as `learn gradebook --jobs 2`
    grades a class (a grading waits on process starts a good part of its time)."""

    def grade_tree(name: str) -> dict:
        overlays = TREES[name]
        tree = overlaid(folders[name], overlays)
        stages = [s for s in ready_stages() if (overlays / s.package / s.package).is_dir()]
        return {r.stage: r for r in grade_stages(stages, tree)}

    folders = {name: tmp_path_factory.mktemp(name) for name in TREES}  # here: mktemp is not thread-safe
    with ThreadPoolExecutor(2) as pool:
        return dict(zip(TREES, pool.map(grade_tree, TREES)))


@pytest.mark.parametrize("name", TREES)
@pytest.mark.parametrize("stage", ready_stages(), ids=lambda s: s.id)
def test_passes_every_check(name, stage, graded):
    overlays, results = TREES[name], graded[name]
    package = overlays / stage.package
    assert (package / stage.package).is_dir(), f"no {overlays.name} tree for {stage.id} in {package}"
    failed = {c.name: c.message for c in results[stage.id].checks if not c.passed}
    assert not failed, failed
