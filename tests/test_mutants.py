"""Every mutant (a plausible learner mistake) is caught by the checks it names.

Mutants of different stages share a tree and one grading (tests/conftest.py `pack_by_stage`), each
judged by its own stage's checks, as `learn gradebook` grades every stage of a submission at once;
only the checks that must catch it run (the rest would prove nothing here, and a broken stage's
hangs and crashes elsewhere cost timeouts and fresh workers).
"""

from __future__ import annotations

import dataclasses
import importlib

import pytest

from conftest import SOLUTIONS, copy_solutions, mutate, pack_by_stage, ready_stages, stage_uses
from learn.judge.grader import grade_stages


def _stage_mutants():
    for stage in ready_stages():
        yield stage, importlib.import_module(f"mutants.{stage.package}").MUTANTS


GROUPS = pack_by_stage([(stage, m) for stage, mutants in _stage_mutants() for m in mutants])


def _grade_group(index: int, folder) -> dict:
    """Stage id -> StageResult of the solutions with group `index`'s mutants applied, graded on the
    checks that must catch them."""
    tree = copy_solutions(folder / f"group{index}")
    for stage, mutant in GROUPS[index]:
        mutate(tree, stage, mutant)
    stages = [dataclasses.replace(s, checks=tuple(c for c in s.checks if c.name in m.caught_by))
              for s, m in GROUPS[index]]  # fmt: skip
    return {r.stage: r for r in grade_stages(stages, tree)}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """group index -> its grading, kept while that group's tests run (the tests of a group run one
    after the other on one test worker: `xdist_group` below)."""
    folder, kept = tmp_path_factory.mktemp("mutants"), {}

    def get(index: int) -> dict:
        if index not in kept:
            kept.clear()
            kept[index] = _grade_group(index, folder)
        return kept[index]

    return get


def test_each_stage_has_ten_mutants_and_each_check_catches_one():
    for stage, mutants in _stage_mutants():
        assert len(mutants) >= 10, stage.id
        assert len({m.name for m in mutants}) == len(mutants), f"{stage.id}: duplicate mutant names"
        names = {c.name for c in stage.checks}
        for m in mutants:
            assert set(m.caught_by) <= names, f"{m.name} names unknown checks {set(m.caught_by) - names}"
            source = (SOLUTIONS / stage.package / m.file).read_text(encoding="utf-8")
            assert source.count(m.old) == 1, f"{m.name}: the snippet must occur exactly once in {m.file}"
        # Every graded check proves it can fail: some mutant must be caught by it.
        unproven = names - {check for m in mutants for check in m.caught_by}
        assert not unproven, f"{stage.id}: no mutant proves these checks can fail: {sorted(unproven)}"


def test_trees_pair_no_stage_with_one_it_builds_on():
    uses = stage_uses()
    assert "stage3_attention" in uses["stage4_model"]  # the case this packing exists for
    for group in GROUPS:
        packages = [s.package for s, _ in group]
        assert len(set(packages)) == len(packages)
        assert not any(q in uses[p] for p in packages for q in packages)


@pytest.mark.parametrize(
    ("index", "stage", "mutant"),
    [pytest.param(i, s, m, id=f"{s.id}-{m.name}", marks=pytest.mark.xdist_group(f"mutants{i}"))
     for i, group in enumerate(GROUPS) for s, m in group],
)
def test_mutant_is_caught(index, stage, mutant, graded):
    failed = {c.name for c in graded(index)[stage.id].checks if not c.passed}
    missed = [name for name in mutant.caught_by if name not in failed]
    assert not missed, f"{mutant.name} passed {missed}"
