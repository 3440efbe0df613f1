"""Every mutant (a plausible learner mistake) is caught by the checks it names."""

from __future__ import annotations

import importlib

import pytest

from conftest import copy_solutions, ready_stages
from learn.judge.grader import grade


def _mutants():
    for stage in ready_stages():
        module = importlib.import_module(f"mutants.{stage.package}")
        for m in module.MUTANTS:
            yield pytest.param(stage, m, id=f"{stage.id}-{m.name}")


def test_each_stage_has_ten_mutants_and_each_check_catches_one():
    for stage in ready_stages():
        mutants = importlib.import_module(f"mutants.{stage.package}").MUTANTS
        assert len(mutants) >= 10, stage.id
        assert len({m.name for m in mutants}) == len(mutants), f"{stage.id}: duplicate mutant names"
        names = {c.name for c in stage.checks}
        for m in mutants:
            assert set(m.caught_by) <= names, f"{m.name} names unknown checks {set(m.caught_by) - names}"
        # Every graded check proves it can fail: some mutant must be caught by it.
        unproven = names - {check for m in mutants for check in m.caught_by}
        assert not unproven, f"{stage.id}: no mutant proves these checks can fail: {sorted(unproven)}"


@pytest.mark.parametrize(("stage", "mutant"), list(_mutants()))
def test_mutant_is_caught(stage, mutant, tmp_path):
    tree = copy_solutions(tmp_path)
    path = tree / stage.package / mutant.file
    source = path.read_text(encoding="utf-8")
    assert source.count(mutant.old) == 1, f"{mutant.name}: the snippet must occur exactly once in {mutant.file}"
    path.write_text(source.replace(mutant.old, mutant.new), encoding="utf-8")
    result = grade(stage, tree)
    missed = [c.name for c in result.checks if c.name in mutant.caught_by and c.passed]
    assert not missed, f"{mutant.name} passed {missed}"
