"""The skeleton generator: what it keeps, what it replaces, and the marker mistakes it refuses."""

from __future__ import annotations

import pytest

from learn.skeleton import MarkerError, strip_solution

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
