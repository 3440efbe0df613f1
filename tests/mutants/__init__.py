"""Mutants: small wrong versions of the solution, each a mistake learners really make.

Each stage has a module here named after its package (stage1_tokenizer.py, ...) with a list
MUTANTS. A mutant replaces one exact snippet of one solution file (the snippet must occur exactly
once) and names the graded checks that must catch it; tests/test_mutants.py grades every mutant and
fails if any of those checks passes.
"""

from typing import NamedTuple


class Mutant(NamedTuple):
    name: str
    file: str  # relative to the stage package, e.g. "bpe.py"
    old: str  # exact text in the solution file
    new: str  # what the learner wrote instead
    caught_by: tuple[str, ...]  # graded checks that must fail on this mutant
