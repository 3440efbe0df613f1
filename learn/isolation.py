"""Running the learner's code in a process of its own, and explaining how it failed.

One rule decides which code runs: the chosen tree is put first on PYTHONPATH of a fresh Python
process. The grader (learn/grader.py) and `learn show` (learn/show.py) both start their process
here; the pytest plugin and the show worker explain the learner's exceptions with `explain`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import traceback
from pathlib import Path

from learn import ROOT


def learner_env(tree: Path) -> dict[str, str]:
    """The environment of a process that runs the code of `tree`."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(tree), str(ROOT)])  # the tree first; ROOT for `learn`
    env["LEARN_TREE"] = str(tree)  # only to name the learner's own files in messages
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # leave no __pycache__ in a student's folder
    # Checks use tiny tensors: a second thread only adds overhead, far more on a busy machine
    # (and the gradebook runs several graders at once).
    env["OMP_NUM_THREADS"] = "1"
    return env


def run_isolated(cmd: list[str], tree: Path, timeout: float, stdout, stderr, **env: str) -> int | None:
    """Run `cmd` over `tree` (plus `env`); its exit code, or None if it ran past `timeout` and was killed."""
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env={**learner_env(tree), **env}, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
        start_new_session=True,  # so that a kill takes the learner's child processes too
    )  # fmt: skip
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill(proc)
        return None
    except KeyboardInterrupt:  # Ctrl-C reaches only our session: take the learner's down with us
        _kill(proc)
        raise


def _kill(proc: subprocess.Popen) -> None:
    """Kill the process and, where the platform has process groups, every child it started."""
    if hasattr(os, "killpg"):
        os.killpg(proc.pid, signal.SIGKILL)
    else:  # Windows
        proc.kill()
    proc.wait()


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
    return f"your code raised {type(e).__name__}: {e}{where(tb)}"
