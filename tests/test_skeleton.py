"""The skeleton generator: what it keeps, what it replaces, and the marker mistakes it refuses."""

from __future__ import annotations

import pytest

from conftest import copy_course, run_in
from learn import manifest
from learn.skeleton import MarkerError, skeleton_files, strip_solution

SOURCE = '''def get_stats(ids):
    """Example: get_stats([1, 2]) -> {(1, 2): 1}"""
    # BEGIN SOLUTION: count each adjacent pair
    return dict.fromkeys(zip(ids, ids[1:]), 1)
    # END SOLUTION


KEPT = 1
'''


def test_block_becomes_a_todo_that_raises():
    skeleton = strip_solution(SOURCE)
    assert "return dict.fromkeys" not in skeleton
    assert '    # TODO: count each adjacent pair\n    raise NotImplementedError(\'count each adjacent pair\')\n' in skeleton
    assert '"""Example: get_stats([1, 2]) -> {(1, 2): 1}"""' in skeleton and "KEPT = 1" in skeleton
    namespace = {}
    exec(skeleton, namespace)
    with pytest.raises(NotImplementedError, match="count each adjacent pair"):
        namespace["get_stats"]([1, 2])


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ("    # BEGIN SOLUTION\n    x = 1\n    # END SOLUTION\n", "say what to do"),
        ("    # BEGIN SOLUTION: a\n    x = 1\n", "never closed"),
        ("    x = 1\n    # END SOLUTION\n", "END SOLUTION without BEGIN"),
        ("# BEGIN SOLUTION: a\n# BEGIN SOLUTION: b\n# END SOLUTION\n", "inside another block"),
    ],
)
def test_marker_mistakes_are_refused_with_a_line_number(source, words):
    with pytest.raises(MarkerError, match=words):
        strip_solution(source, "f.py")


@pytest.fixture
def course(tmp_path):
    """A copy of the course whose stages/stage1_tokenizer/bpe.py holds a learner's work."""
    course = copy_course(tmp_path / "course")
    bpe = course / "stages" / "stage1_tokenizer" / "bpe.py"
    bpe.write_text(bpe.read_text() + "\nMY_WORK = 1\n")
    (course / "stages" / "stage1_tokenizer" / "notes.py").write_text("# mine\n")
    return course


def test_generator_refuses_to_overwrite_work_and_changes_nothing(course):
    before = {p: p.read_bytes() for p in (course / "stages").rglob("*") if p.is_file()}
    done = run_in(course, "-m", "learn.skeleton")
    assert done.returncode == 1
    assert "stages/stage1_tokenizer/bpe.py" in done.stderr and "notes.py" in done.stderr
    assert "--force" in done.stderr and "Traceback" not in done.stderr
    assert {p: p.read_bytes() for p in (course / "stages").rglob("*") if p.is_file()} == before
    assert not (course / ".learn").exists()


def test_generator_with_force_keeps_a_backup(course):
    work = (course / "stages" / "stage1_tokenizer" / "bpe.py").read_text()
    done = run_in(course, "-m", "learn.skeleton", "--force")
    assert done.returncode == 0, done.stderr
    stage = manifest.find("stage1")
    folder = course / "stages" / stage.package
    assert {p.relative_to(folder).as_posix(): p.read_text() for p in folder.rglob("*") if p.is_file()} == skeleton_files(stage)
    [backup] = (course / ".learn" / "backup").iterdir()
    assert backup.name.startswith("skeleton-")
    assert (backup / "stage1_tokenizer" / "bpe.py").read_text() == work
    assert (backup / "stage1_tokenizer" / "notes.py").read_text() == "# mine\n"
    assert str(backup.relative_to(course)) in done.stdout


def test_generator_leaves_an_untouched_skeleton_alone(course):
    assert run_in(course, "-m", "learn.skeleton", "--force").returncode == 0
    done = run_in(course, "-m", "learn.skeleton")
    assert done.returncode == 0, done.stderr
    assert "is the skeleton already" in done.stdout
