"""One sentence on an exception raised by the learner's code, naming the learner's own line."""

from __future__ import annotations

import errno
import os
import traceback


def where(tb) -> str:
    """' (at bpe.py:42, in encode)': the deepest frame that is the learner's own code."""
    tree = os.environ.get("LEARN_TREE")
    if not tree or tb is None:
        return ""
    frames = [f for f in traceback.extract_tb(tb) if f.filename.startswith(tree + os.sep)]
    if not frames:
        return ""
    f = frames[-1]
    return f" (at {os.path.relpath(f.filename, tree)}:{f.lineno}, in {f.name})"


def explain(e: BaseException, tb=None) -> str:
    """One line on an exception raised by the learner's code."""
    tb = tb if tb is not None else e.__traceback__
    if isinstance(e, NotImplementedError):
        return f"not implemented yet: {e}{where(tb)}"
    if isinstance(e, SyntaxError):
        tree = os.environ.get("LEARN_TREE", "")
        at = os.path.relpath(e.filename, tree) if tree and e.filename else e.filename
        return f"your code has a SyntaxError: {e.msg} (at {at}:{e.lineno})"
    if isinstance(e, SystemExit):
        return f"your code called sys.exit({e.code!r}){where(tb)}"
    if isinstance(e, OSError) and e.errno == errno.EFBIG:
        return f"your code wrote a file over the grader's size limit{where(tb)}"
    if isinstance(e, MemoryError):
        return f"your code ran out of memory (the grader allows a few GB){where(tb)}"
    return f"your code raised {type(e).__name__}: {_message(e)}{where(tb)}"


def _message(e: BaseException) -> str:
    try:
        text = str(e)
    except Exception:  # an exception whose __str__ itself fails
        return "(its message could not be shown)"
    return text if len(text) <= 300 else text[:285] + " ..."
