"""`learn prepare`: tokenize a corpus once into a token file that `learn pretrain --data X.bin` streams.

    learn prepare tinyshakespeare                                   your tokenizer -> .data/tinyshakespeare-own.bin
    learn prepare books/ --tokenizer gpt2                           a folder of .txt -> books-gpt2.bin beside it
    learn prepare corpus.txt --vocab-size 8192 --out corpus.bin

The corpus is a data set's name, a UTF-8 text file or a folder of them (learn/cli/datafiles.py):
the files in the order of their paths, the end-of-text token between two of them, as `learn
pretrain --data FOLDER` reads it. It is read piece by piece (PIECE characters, cut where a line
starts, which is where GPT-2's split pattern cuts anyway, so the ids are those of the whole text),
so a corpus of gigabytes never has to fit in memory.

--tokenizer own (the default): your stage-1 BPETokenizer, in a worker as `learn pretrain` runs it,
first trained on the start of the corpus (--train-chars characters, at most its first 90 %, the
part pretraining trains on), then encoding every piece. --tokenizer gpt2: tiktoken's GPT-2
encoding, in this process (every core; it is not your code). Written beside NAME.bin: NAME.json,
which says how it was made, and for your tokenizer NAME.tokenizer.json; the .bin appears only
once it is whole.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from learn.cli.console import err, pick_tree, shown, tell, usage_error
from learn.cli.datafiles import FORMAT, SPECIAL, meta_path, text_files, tokenizer_path
from learn.cli.runs import failed, gpt2_encoding, packages_through, workers

PIECE = 4_000_000  # characters tokenized at a time
SECONDS = 1200  # a worker's time for one piece, or for training the tokenizer
SAFE_CUT = re.compile(r"(?<=\S)\n(?=\S)")  # a newline between two non-spaces: see _cut


def prepare(
    corpus: str = typer.Argument(..., metavar="CORPUS", help="A data set (tinyshakespeare, the-verdict), a UTF-8 text file, or a folder of them."),
    out_path: Optional[str] = typer.Option(None, "--out", metavar="PATH.bin", help="The token file (default: CORPUS-TOKENIZER.bin beside it)."),
    tokenizer: str = typer.Option("own", "--tokenizer", metavar="own|gpt2", help="Your stage-1 BPE tokenizer (trained here) or GPT-2's."),
    vocab_size: int = typer.Option(2048, "--vocab-size", min=257, max=2**16, help="Your tokenizer's size (--tokenizer own)."),
    train_chars: int = typer.Option(10_000_000, "--train-chars", min=1000, help="Your tokenizer trains on this many characters of the start."),
    impl: Optional[str] = typer.Option(None, "--impl", metavar="TREE", help="Use the stages of this tree instead of stages/."),
):  # fmt: skip
    """Tokenize CORPUS into a token file for `learn pretrain --data FILE.bin`."""
    started = time.time()
    if tokenizer not in ("own", "gpt2"):
        raise usage_error(f"--tokenizer {escape(tokenizer)}: choose own or gpt2")
    files, default_out = _corpus(corpus)
    target = Path(out_path) if out_path else default_out.with_name(f"{default_out.name}-{tokenizer}.bin")
    if target.suffix != ".bin":
        raise usage_error(escape(f"--out {target}: a token file's name ends in .bin"))
    total = sum(p.stat().st_size for p in files)
    if tokenizer == "gpt2":
        engine, encode, meta, saved = None, _gpt2(), {"vocab_size": 50257, "eot": 50256}, None
    else:
        tree = pick_tree(impl, None)
        engine = workers(tree, packages_through(1, tree, "learn prepare --tokenizer own"))
    try:
        if engine is not None:
            saved, meta, encode = _own(engine, files, vocab_size, train_chars)
        tokens, digest = _write(target, files, total, encode, meta["eot"])
    finally:
        if engine is not None:
            engine.close()
    description = {"format": FORMAT, "tokens": tokens, "tokenizer": tokenizer, "vocab_size": meta["vocab_size"],
                   "eot": meta["eot"], "sha256": digest, "source": corpus}  # fmt: skip
    if saved is not None:
        tokenizer_path(target).write_bytes(saved)
    meta_path(target).write_text(json.dumps(description, indent=2) + "\n", encoding="utf-8")
    os.replace(target.with_name(target.name + ".tmp"), target)
    where = escape(str(shown(target)))
    tell(f"wrote {where}: {tokens:,} tokens of {total / 2**20:,.1f} MB of text ({tokenizer}, vocabulary {meta['vocab_size']:,}) "
         f"in {time.time() - started:.0f} s")  # fmt: skip
    tell(f"train on it: learn pretrain --data {where}")


def _corpus(corpus: str) -> tuple[list[Path], Path]:
    """(the corpus's text files in order, the path its token file is named after)."""
    from learn.data import CACHE, DATASETS, DataError, fetch

    path = Path(corpus)
    if path.is_dir():
        files = text_files(path)
        if not files:
            raise usage_error(escape(f"{corpus}: the folder holds no .txt file"))
        return files, path.resolve()
    if path.is_file():
        return [path], path.with_suffix("")
    name = corpus if corpus.endswith(".txt") else corpus + ".txt"
    if name not in DATASETS:
        raise usage_error(escape(f"{corpus}: no such file or folder, and not one of {', '.join(n[:-4] for n in DATASETS)}"))
    try:
        return [fetch(name)], CACHE / name[:-4]
    except DataError as e:
        raise usage_error(escape(str(e))) from None


def _pieces(files: list[Path], size: int):
    """(text, characters read) pieces of the corpus, SPECIAL alone between two files. A piece ends
    right after a newline that a non-space follows, where GPT-2's split pattern cuts the text too."""
    for n, path in enumerate(files):
        if n:
            yield SPECIAL, 0
        carry = ""
        try:
            with open(path, encoding="utf-8") as f:
                while block := f.read(size):
                    text = carry + block
                    cut = _cut(text)
                    carry = text[cut:]
                    yield text[:cut], len(block.encode("utf-8"))
        except UnicodeDecodeError:
            raise usage_error(escape(f"{shown(path)} is not UTF-8 text")) from None
        if carry:
            yield carry, 0


def _cut(text: str) -> int:
    """Where to end a piece of `text`: right after its last newline with a non-space on both sides
    (GPT-2's split pattern makes a token of that newline alone, in the piece as in the whole
    text; a run of spaces at a piece's end would be one token there, and two in the text), or at
    its end if there is none.

    Example: _cut("ab\ncd\n  ef") -> 3: after "ab\n" ("cd\n" is followed by spaces).
    """
    at = len(text) - 1
    while (at := text.rfind("\n", 0, at)) > 0:
        if not text[at + 1].isspace() and not text[at - 1].isspace():
            return at + 1
    return len(text)


def _parts(text: str, n: int) -> list[str]:
    """`text` in about n parts, each ended as _cut ends a piece: together they encode to its ids."""
    parts, start, size = [], 0, max(1, len(text) // n)
    while start < len(text):
        found = SAFE_CUT.search(text, start + size)
        end = found.end() if found else len(text)
        parts.append(text[start:end])
        start = end
    return parts


def _write(target: Path, files: list[Path], total: int, encode, eot: int) -> tuple[int, str]:
    """Encode the pieces into TARGET.tmp with a progress bar; (tokens written, their SHA-256)."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    digest, tokens = hashlib.sha256(), 0
    tmp = target.with_name(target.name + ".tmp")
    try:
        f = open(tmp, "wb")  # noqa: SIM115 (closed below)
    except OSError as e:
        raise usage_error(escape(f"cannot write {tmp} ({e.strerror or e}): give --out a path you can write")) from None
    columns = (TextColumn("tokenizing"), BarColumn(), DownloadColumn(), TimeRemainingColumn())
    with f, Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("", total=total)
        for text, read in _pieces(files, PIECE):
            data = eot.to_bytes(2, "little") if text == SPECIAL else encode(text)
            f.write(data)
            digest.update(data)
            tokens += len(data) // 2
            bar.advance(task, read)
    return tokens, digest.hexdigest()


def _gpt2():
    """tiktoken's GPT-2 encoding, as a function of a text to little-endian uint16 bytes."""
    import numpy as np

    enc = gpt2_encoding()

    def encode(text: str) -> bytes:
        parts = _parts(text, 4 * (os.cpu_count() or 1))  # tiktoken's batch runs on every core
        ids = [i for part in enc.encode_batch(parts, allowed_special={SPECIAL}) for i in part]
        return np.asarray(ids, dtype="<u2").tobytes()

    return encode


def _own(engine, files: list[Path], vocab_size: int, train_chars: int):
    """(saved tokenizer, {"vocab_size", "eot"}, encode): the learner's BPE trained on the start of
    the corpus in the worker, and a function that encodes a piece there."""
    from learn.judge.workers import ProbeFailed

    start, size = [], 0
    for text, _ in _pieces(files, PIECE):
        start.append(text)
        size += len(text)
        if size >= train_chars / 0.9:
            break
    text = "".join(start)[: min(train_chars, int(sum(map(len, start)) * 0.9))]
    try:
        with err.status(f"training your BPE tokenizer on {len(text):,} characters (vocabulary {vocab_size:,})"):
            made = engine.run("learn.engine.corpus:probe_train_tokenizer", {"text": text, "vocab_size": vocab_size},
                              SECONDS, package="stage1_tokenizer")
    except ProbeFailed as e:
        raise failed(e) from None

    def encode(piece: str) -> bytes:
        try:
            return engine.run("learn.engine.corpus:probe_encode", {"tokenizer": made["tokenizer"], "texts": [piece]},
                              SECONDS, package="stage1_tokenizer")
        except ProbeFailed as e:
            raise failed(e) from None

    return made["tokenizer"], {"vocab_size": made["vocab_size"], "eot": made["eot"]}, encode
