"""Files in folders the learner controls (run folders, .learn/), touched as what they claim to be.

The CLI may run as root (a grading box, a container) over a run folder that the learner's code
wrote: a `checkpoint.pt` that is a link to /etc/shadow, or a `summary.json.tmp` that points at
a system file, must never make it read or write anything but a plain file of that folder. So:
reads open without following links (O_NOFOLLOW) and take regular files only; writes go to a
temporary file created exclusively beside the target, then renamed over it (a rename replaces a
link, never what it points at).

    data = read_bytes(folder / "run.json")        # OSError for a link, a FIFO, a folder...
    write_bytes(folder / "summary.json", data)    # whole or not at all
    with fresh(folder / "log.csv") as f: ...      # a new file, filled as one goes
"""

from __future__ import annotations

import os
import secrets
import shutil
import stat
from pathlib import Path

NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)  # 0 on Windows, which has no such links to fear here


KINDS = {stat.S_IFIFO: "a FIFO", stat.S_IFSOCK: "a socket", stat.S_IFCHR: "a device", stat.S_IFBLK: "a device",
         stat.S_IFLNK: "a symbolic link", stat.S_IFDIR: "a folder", stat.S_IFREG: "a plain file"}  # fmt: skip


def kind(mode: int) -> str:
    """What a file of this st_mode is, in words: "a FIFO"."""
    return KINDS.get(stat.S_IFMT(mode), "not a file")


def open_regular(path: Path) -> int:
    """A read-only descriptor of `path` if it is a regular file itself (not a link to one)."""
    fd = os.open(path, os.O_RDONLY | NOFOLLOW | getattr(os, "O_NONBLOCK", 0))  # a FIFO must not block us
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise OSError(f"{path} is not a plain file ({kind(mode)})")
    return fd


def read_bytes(path: Path) -> bytes:
    with os.fdopen(open_regular(path), "rb") as f:
        return f.read()


def read_text(path: Path) -> str:
    return read_bytes(path).decode("utf-8")


def _exclusive(path: Path, mode: int) -> tuple[Path, int]:
    """A new file beside `path`, under a random name, made exclusively: never a file or link that
    another process put there, whatever name it guessed."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    return tmp, os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | NOFOLLOW, mode)


def replace(path: Path, write, mode: int = 0o644) -> None:
    """Replace `path` with what write(f) writes to a new binary file: a reader sees the old file or
    the new one, never half, and nothing that `path` or a stale temporary file links to is touched."""
    tmp, fd = _exclusive(path, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def fresh(path: Path, mode: int = 0o644):
    """`path` made anew and empty, open for writing (binary), to be filled as one goes: a new file
    made as replace() makes it, put in place at once."""
    tmp, fd = _exclusive(path, mode)
    try:
        os.replace(tmp, path)
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    return os.fdopen(fd, "wb")


def write_bytes(path: Path, data: bytes, mode: int = 0o644) -> None:
    replace(path, lambda f: f.write(data), mode)


def write_text(path: Path, text: str, mode: int = 0o644) -> None:
    write_bytes(path, text.encode("utf-8"), mode)


def copy_into(source, path: Path) -> None:
    """Replace `path` with what the open binary file `source` holds (GBs: in chunks)."""
    replace(path, lambda f: shutil.copyfileobj(source, f, 1 << 20))


def save_figure(fig, path: Path) -> None:
    """A matplotlib figure as a PNG at `path`."""
    replace(path, lambda f: fig.savefig(f, dpi=100, format="png"))
