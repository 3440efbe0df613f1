"""Real data sets and weights, fetched once from their canonical URLs and verified by SHA-256.

    from learn.data import fetch
    path = fetch("tinyshakespeare.txt")

Where a file is looked for, in order:
  1. $LEARN_DATA_DIR/<name>, when that variable is set (a shared, read-only copy: CI sets it);
  2. the course's cache, .data/<name> (git-ignored);
  3. the canonical URL, downloaded with a progress bar into the cache.
Every copy is checked against the recorded checksum before it is used. A data set published inside
a zip file (the SMS Spam Collection) is downloaded as the zip, and the one file it names is taken
out of it: that file is what the checksum is of, and what the cache and $LEARN_DATA_DIR hold.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from learn import ROOT

CACHE = ROOT / ".data"


@dataclass(frozen=True)
class DataSet:
    url: str
    sha256: str  # of the file itself (for a zip's member: of the member, not of the zip)
    what: str
    member: str | None = None  # the file inside the zip at `url`, if the url is a zip


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
    "SMSSpamCollection": DataSet(
        "https://archive.ics.uci.edu/static/public/228/sms+spam+collection.zip",
        "7d039a24a6083ed9ef0f806ebad56bbb976e3aeb8de05669173bfdc4996c239d",
        "the UCI SMS Spam Collection: 5,574 lines `ham|spam<TAB>text`, the book's chapter 6 data",
        member="SMSSpamCollection",
    ),
    "instruction-data.json": DataSet(
        "https://raw.githubusercontent.com/rasbt/LLMs-from-scratch/main/ch07/01_main-chapter-code/instruction-data.json",
        "7e09a9af353722ca15c18bc580f093f9c39d3178335a75177319cb1e1d163944",
        "1,100 instruction/input/output records, the book's chapter 7 data",
    ),
    "gpt2-124m.safetensors": DataSet(  # Hugging Face's openai-community/gpt2, pinned to a revision
        "https://huggingface.co/openai-community/gpt2/resolve/607a30d783dfa663caf39e06633721c8d4cfcd7e/model.safetensors",
        "248dfc3911869ec493c76e65bf2fcf7f615828b0254c12b473182f0f81d3a707",
        "OpenAI's GPT-2 (124M) weights, 548 MB, in Hugging Face's safetensors layout",
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
        if ds.member is not None:
            _extract(Path(tmp), ds.member)
        if sha256(Path(tmp)) != ds.sha256:
            raise DataError(f"the download of {name} from {ds.url} does not match its checksum; try again later")
        os.replace(tmp, path)
    except (OSError, zipfile.BadZipFile, KeyError) as e:
        what = f"the file {ds.member} from the zip at {ds.url}" if ds.member else f"{ds.url}"
        raise DataError(f"cannot download {name} from {ds.url} ({e}); check your connection, or save {what} "
                        f"as {path} yourself") from None  # fmt: skip
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path


def _extract(zip_path: Path, member: str) -> None:
    """Replace the zip file at zip_path by its member `member`."""
    with zipfile.ZipFile(zip_path) as archive:
        content = archive.read(member)
    zip_path.write_bytes(content)


def _download(url: str, dest: Path, name: str, progress: bool) -> None:
    from rich.console import Console
    from rich.progress import DownloadColumn, Progress, TransferSpeedColumn

    with urllib.request.urlopen(url, timeout=30) as response, open(dest, "wb") as out:
        total = int(response.headers.get("Content-Length") or 0) or None
        columns = (*Progress.get_default_columns(), DownloadColumn(), TransferSpeedColumn())
        with Progress(*columns, console=Console(stderr=True), disable=not progress) as bar:  # stdout may be --json's
            task = bar.add_task(f"downloading {name}", total=total)
            for block in iter(lambda: response.read(1 << 16), b""):
                out.write(block)
                bar.advance(task, len(block))
