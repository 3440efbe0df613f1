"""nox sessions: the project's tests, and a gradebook over a folder of student submissions.

    nox -s tests
    nox -s oldest_torch          the quick tests on the oldest torch that pyproject.toml accepts
    nox -s gradebook -- path/to/submissions [--out gradebook.csv]

Each session builds its own virtualenv and installs the CPU build of torch first: a bare `torch`
requirement with no torch installed would pull a multi-GB CUDA build.
"""

import nox

nox.options.sessions = ["tests"]
TORCH = "torch==2.13.0"
OLDEST_TORCH = "torch==2.1.0"  # pyproject.toml's floor (torch>=2.1): raise both together
CPU_WHEELS = "https://download.pytorch.org/whl/cpu"


def _install(session, extras=""):
    session.install(TORCH)
    session.install("-e", f".{extras}")


@nox.session
def tests(session):
    _install(session, "[dev]")
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session
def gradebook(session):
    if not session.posargs:
        session.error("give the folder of submissions: nox -s gradebook -- path/to/submissions")
    _install(session)
    session.run("learn", "gradebook", *session.posargs)


@nox.session
def oldest_torch(session):
    """The quick tests and every stage's checks on solutions/, on the oldest torch we claim.
    The wire, the checking helpers, a tiny pretraining run (AdamW unfused on the CPU); numpy < 2:
    torch 2.1 was built against numpy 1."""
    session.install(OLDEST_TORCH, "--index-url", CPU_WHEELS)
    session.install("-e", ".[dev]", "numpy<2")
    quick = ["tests/test_wire.py", "tests/test_checking.py", "tests/test_pretrain.py"]
    session.run("python", "-m", "pytest", "-q", *quick, *session.posargs)
    session.run("learn", "check", "--all", "--impl", "solutions")
