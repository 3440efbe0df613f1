"""nox sessions: the project's tests, and a gradebook over a folder of student submissions.

    nox -s tests
    nox -s gradebook -- path/to/submissions [--out gradebook.csv]

Each session builds its own virtualenv and installs the CPU build of torch first: a bare `torch`
requirement with no torch installed would pull a multi-GB CUDA build.
"""

import nox

nox.options.sessions = ["tests"]
TORCH = "torch==2.13.0"


def _install(session, extras=""):
    session.install(TORCH)
    session.install("-e", f".{extras}")


@nox.session
def tests(session):
    _install(session)
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session
def gradebook(session):
    if not session.posargs:
        session.error("give the folder of submissions: nox -s gradebook -- path/to/submissions")
    _install(session)
    session.run("learn", "gradebook", *session.posargs)
