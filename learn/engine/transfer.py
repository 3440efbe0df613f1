"""How large things cross between the CLI and a probe: as files, never as one message.

The learner's save and load functions take a path, and the worker may run as a user of its own
with paths hidden (learn/worker/sandbox.py): what goes out is {"file": path}, a file in the
worker's home (its TMPDIR) that the CLI moves at once; what comes in is bytes, or {"fd": n}, a
file the CLI opened.
"""

from __future__ import annotations

import os
import shutil
import tempfile


def via_file(write, suffix: str) -> bytes:
    """Bytes of what write(path) writes: the learner's save functions take a path."""
    fd, path = tempfile.mkstemp(suffix=suffix)
    os.close(fd)
    try:
        write(path)
        with open(path, "rb") as f:
            return f.read()
    finally:
        os.unlink(path)


def to_file(write, suffix: str) -> dict:
    """{"file": path} of a new file in the worker's home (its TMPDIR) that write(path) fills, for
    the CLI to move: the learner's save functions take a path."""
    fd, path = tempfile.mkstemp(suffix=suffix)
    os.close(fd)
    write(path)
    return {"file": path}


def from_bytes(data: bytes | dict, read, suffix: str):
    """read(path) of a temporary file holding `data`: bytes, or {"fd": n}, a file the CLI opened."""
    fd, path = tempfile.mkstemp(suffix=suffix)
    with os.fdopen(fd, "wb") as f:
        if isinstance(data, dict):
            with os.fdopen(os.dup(data["fd"]), "rb") as source:
                source.seek(0)
                shutil.copyfileobj(source, f, 1 << 20)
        else:
            f.write(data)
    try:
        return read(path)
    finally:
        os.unlink(path)
