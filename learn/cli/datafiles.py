"""What `--data` can name besides a data set or a text file: a folder of text files, and a token
file that `learn prepare` wrote. Shared by learn/cli/pretrain.py and learn/cli/prepare.py.

A folder of text files reads as one text: its *.txt files (and those of its subfolders) in the
order of their paths, with the end-of-text token between one file and the next, so that no
window of the training joins two documents without the model being told.

A token file, NAME.bin, holds token ids as little-endian uint16 (nanoGPT's format; the worker
memory-maps it, learn/engine/corpus.py); beside it NAME.json says how it was made:

    {"format": "learn tokens 1", "tokens": 301966, "tokenizer": "gpt2" | "own",
     "vocab_size": 50257, "eot": 50256, "sha256": "<of NAME.bin>", "source": "tinyshakespeare"}

and, for "own", NAME.tokenizer.json is the learner's saved BPETokenizer that made it.
`learn pretrain --data NAME.bin` checks all of that before a worker starts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from rich.markup import escape

from learn.cli.console import shown, usage_error

SPECIAL = "<|endoftext|>"
FORMAT = "learn tokens 1"


def text_files(folder: Path) -> list[Path]:
    """The *.txt files of a folder and its subfolders, in the order of their paths."""
    return sorted(p for p in folder.rglob("*.txt") if p.is_file())


def read_folder(folder: Path) -> str:
    """The text files of `folder` as one text, SPECIAL between them; a usage error if it has none."""
    files = text_files(folder)
    if not files:
        raise usage_error(escape(f"--data {shown(folder)}: the folder holds no .txt file"))
    texts = []
    for path in files:
        try:
            texts.append(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError:
            raise usage_error(escape(f"--data {shown(folder)}: {path.relative_to(folder)} is not UTF-8 text")) from None
    return SPECIAL.join(texts)


def meta_path(bin_path: Path) -> Path:
    return bin_path.with_suffix(".json")


def tokenizer_path(bin_path: Path) -> Path:
    return bin_path.with_suffix(".tokenizer.json")


@dataclass
class TokenFile:
    path: Path
    tokens: int
    tokenizer: str  # "gpt2" or "own"
    vocab_size: int
    sha256: str
    saved_tokenizer: bytes | None  # the learner's tokenizer for "own"


def read_tokens(path: Path) -> TokenFile:
    """A token file and what lies beside it, checked; a usage error that says what is wrong."""
    where = escape(str(shown(path)))
    try:
        meta = json.loads(meta_path(path).read_text(encoding="utf-8"))
        size = path.stat().st_size
    except FileNotFoundError as e:
        raise usage_error(f"--data {where}: no {escape(Path(e.filename).name)}; write token files with `learn prepare`") from None
    except (OSError, ValueError) as e:
        raise usage_error(f"--data {where}: cannot read {escape(meta_path(path).name)} ({escape(type(e).__name__)})") from None
    if type(meta) is not dict or meta.get("format") != FORMAT or meta.get("tokenizer") not in ("gpt2", "own"):
        raise usage_error(f"--data {where}: {escape(meta_path(path).name)} is not a description of `learn prepare`'s ({FORMAT})")
    if size != 2 * meta.get("tokens", -1) or size == 0:
        raise usage_error(f"--data {where}: {size:,} bytes, and {escape(meta_path(path).name)} says {meta.get('tokens')} tokens "
                          "of 2 bytes: the file is incomplete or changed; prepare it again")  # fmt: skip
    saved = None
    if meta["tokenizer"] == "own":
        try:
            saved = tokenizer_path(path).read_bytes()
        except OSError:
            raise usage_error(f"--data {where}: made by your tokenizer, and {escape(tokenizer_path(path).name)} is missing") from None
    return TokenFile(path, meta["tokens"], meta["tokenizer"], int(meta.get("vocab_size", 0)), str(meta.get("sha256")), saved)
