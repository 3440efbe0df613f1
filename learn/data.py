"""Real data sets, fetched once from their canonical URLs and verified by SHA-256.

    from learn.data import fetch
    path = fetch("tinyshakespeare.txt")

Where a file is looked for, in order:
  1. $LEARN_DATA_DIR/<name>, when that variable is set (a shared, read-only copy: CI sets it);
  2. the course's cache, .data/<name> (git-ignored);
  3. the canonical URL, downloaded with a progress bar into the cache.
Every copy is checked against the recorded checksum before it is used.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from learn import ROOT

CACHE = ROOT / ".data"


@dataclass(frozen=True)
class DataSet:
    url: str
    sha256: str
    what: str


DATASETS = {
    "tinyshakespeare.txt": DataSet(
        "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
        "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
        "Tiny Shakespeare, 1.1 MB of plays: the benchmark and pretraining corpus",
    ),
    "the-verdict.txt": DataSet(
        "https://raw.githubusercontent.com/rasbt/LLMs-from-scratch/main/ch02/01_main-chapter-code/the-verdict.txt",
        "b41e41a68f0398a3154ae69e2e4c0e2694e17fe0d66730536837f1b01935b31f",
        "Edith Wharton's The Verdict, the book's pretraining text",
    ),
}


class DataError(RuntimeError):
    """A data set could not be had; the message says what to do."""


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(name: str, progress: bool = True) -> Path:
    """The verified local path of data set `name`, downloading it once if needed."""
    if name not in DATASETS:
        raise DataError(f"unknown data set {name!r}: choose one of {', '.join(DATASETS)}")
    ds = DATASETS[name]
    shared = os.environ.get("LEARN_DATA_DIR")
    if shared and (Path(shared) / name).is_file():
        path = Path(shared) / name
        if sha256(path) != ds.sha256:
            raise DataError(f"{path} does not match its checksum; remove it or unset LEARN_DATA_DIR")
        return path
    path = CACHE / name
    if path.is_file() and sha256(path) == ds.sha256:
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=CACHE, prefix=f".{name}.")
    os.close(fd)
    try:
        _download(ds.url, Path(tmp), name, progress)
        if sha256(Path(tmp)) != ds.sha256:
            raise DataError(f"the download of {name} from {ds.url} does not match its checksum; try again later")
        os.replace(tmp, path)
    except OSError as e:
        raise DataError(f"cannot download {name} from {ds.url} ({e}); check your connection, or put the file in {CACHE}") from None
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path


def _download(url: str, dest: Path, name: str, progress: bool) -> None:
    from rich.progress import DownloadColumn, Progress, TransferSpeedColumn

    with urllib.request.urlopen(url, timeout=30) as response, open(dest, "wb") as out:
        total = int(response.headers.get("Content-Length") or 0) or None
        with Progress(*Progress.get_default_columns(), DownloadColumn(), TransferSpeedColumn(), disable=not progress) as bar:
            task = bar.add_task(f"downloading {name}", total=total)
            for block in iter(lambda: response.read(1 << 16), b""):
                out.write(block)
                bar.advance(task, len(block))
