"""A class's submissions as they come: a folder of folders, or of .zip files.

    find(folder, course, work) -> [Submission(name, tree, note, file), ...]

A student is named by their folder, or by their zip less `.zip`; where that would give two
entries one name, ignoring case (`dave/` beside `dave.zip`, `carol.zip` beside `carol.ZIP`), a
zip keeps its whole name (`dave`, `dave.zip`; `carol.ZIP`, `carol.zip`), so that every row is one
student's. The files made for a student (unzipped work, reports, kept rows) are named `file`: the
name, or, where two names differ only in case, the name and ~2 (`carol.zip~2`), for macOS and
Windows see those two as one.

A submission's *tree* is the folder that holds its stage packages: the submission itself, or the
one folder inside it that does (a zip of a folder is the common layout). A submission that holds
no stage package still gets a Submission, with tree None and a note that says so, so that it
gets a row in every gradebook. So does a tree that holds anything but plain files, folders and
links that stay inside it (a FIFO, a socket, a device, a link to elsewhere): it is refused as a
whole, with a note that names the first such file, for reading it could block the grader and
following it could grade someone else's code.

Zips are unpacked safely into `work`: no entry may leave the target (absolute paths, `..`), no
symlinks, at most MAX_FILES entries and MAX_BYTES unpacked (counted as written, not as declared).
A zip that breaks a rule is refused as a whole, with a note.
"""

from __future__ import annotations

import os
import shutil
import stat
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from learn import files
from learn.judge.workers import tree_entries
from learn.manifest import Stage

MAX_BYTES = 100 * 2**20
MAX_FILES = 5_000


@dataclass
class Submission:
    name: str
    tree: Path | None  # None: nothing to grade (see note)
    note: str = ""
    file: str = ""  # the name of the files made for this student (unique even ignoring case); default: name

    def __post_init__(self):
        self.file = self.file or self.name


class Refused(ValueError):
    """A zip that cannot be unpacked safely; the message says why."""


def find(folder: Path, course: list[Stage], work: Path) -> list[Submission]:
    """Every submission in `folder`, sorted by name; zips are unpacked under `work`."""
    packages = {s.package for s in course}
    entries = [e for e in sorted(folder.iterdir()) if not e.name.startswith(".") and (_is_folder(e) or _is_zip(e))]
    names = _names(entries)
    found = []
    for entry, name, file in zip(entries, names, _file_names(names)):
        if _is_folder(entry):
            found.append(_submission(name, entry, packages, file))
            continue
        mode = entry.lstat().st_mode
        if not stat.S_ISREG(mode):
            found.append(Submission(name, None, f"refused {entry.name}: not a plain file ({files.kind(mode)})", file))
            continue
        try:
            unpacked = unzip(entry, work / file)
        except Refused as e:
            found.append(Submission(name, None, f"refused {entry.name}: {e}", file))
            continue
        found.append(_submission(name, unpacked, packages, file))
    return found


def _is_folder(entry: Path) -> bool:
    return entry.is_dir() and not entry.is_symlink()


def _is_zip(entry: Path) -> bool:
    return entry.suffix.lower() == ".zip" and not _is_folder(entry)


def _names(entries: list[Path]) -> list[str]:
    """Each entry's student: a folder's name, or a zip's name less `.zip` unless that is another
    entry's name or name less `.zip` too, ignoring case: then the zip's whole name."""
    stems = [e.name[: -len(".zip")] if _is_zip(e) else e.name for e in entries]
    claims = Counter(n.casefold() for e, stem in zip(entries, stems) for n in {e.name, stem})
    return [stem if claims[stem.casefold()] == 1 else e.name for e, stem in zip(entries, stems)]


def _file_names(names: list[str]) -> list[str]:
    """A name for each student's files that no other's is, even ignoring case (macOS, Windows):
    the student's name, with ~2, ~3... where an earlier one's differs only in case."""
    files: list[str] = []
    for name in names:
        file, n = name, 1
        while file.casefold() in {f.casefold() for f in files}:
            n += 1
            file = f"{name}~{n}"
        files.append(file)
    return files


def tree_of(root: Path, packages: set[str]) -> Path | None:
    """`root` if it holds a stage package, else the one folder inside it that does, else None."""
    if any((root / p).is_dir() for p in packages):
        return root
    inner = _inner(root, packages)
    return inner[0] if len(inner) == 1 else None  # one level down: a zipped folder


def _inner(root: Path, packages: set[str]) -> list[Path]:
    return [d for d in sorted(root.iterdir()) if d.is_dir() and not d.is_symlink() and any((d / p).is_dir() for p in packages)]


def _submission(name: str, root: Path, packages: set[str], file: str) -> Submission:
    tree = tree_of(root, packages)
    if tree is not None:
        try:
            why = _refusal(tree)
        except OSError as e:
            why = f"cannot be read ({e.strerror or e})"
        return Submission(name, None, why, file) if why else Submission(name, tree, file=file)
    inner = _inner(root, packages)
    if len(inner) > 1:
        folders = ", ".join(d.name for d in inner)
        return Submission(name, None, f"holds stage packages in {len(inner)} folders ({folders}); hand in one", file)
    return Submission(name, None, "holds no stage package (e.g. stage1_tokenizer/)", file)


def _refusal(tree: Path) -> str | None:
    """Why `tree` is not graded, or None: the first thing a worker would get (learn/judge/workers.py)
    that is neither a plain file, a folder, nor a link that stays inside the tree. A FIFO would
    block whoever reads it; a link out of the tree would grade someone else's code."""
    inside = os.path.realpath(tree)
    for rel, st in tree_entries(tree):
        kind = stat.S_IFMT(st.st_mode)
        if kind == stat.S_IFLNK and not Path(os.path.realpath(tree / rel)).is_relative_to(inside):
            return f"refused {rel}: a symbolic link to outside the submission"
        if kind not in (stat.S_IFREG, stat.S_IFDIR, stat.S_IFLNK):
            return f"refused {rel}: not a plain file ({files.kind(kind)})"
    return None


def unzip(archive: Path, target: Path) -> Path:
    """Unpack `archive` into `target` (created), or raise Refused and leave nothing behind."""
    try:
        with zipfile.ZipFile(archive) as z:
            infos = z.infolist()
            if len(infos) > MAX_FILES:
                raise Refused(f"{len(infos)} entries, over the limit of {MAX_FILES}")
            for info in infos:
                _check_entry(info)
            target.mkdir(parents=True, exist_ok=False)
            written = 0
            for info in infos:
                dest = target.joinpath(*PurePosixPath(info.filename).parts)
                if info.is_dir():
                    dest.mkdir(parents=True, exist_ok=True)
                    continue
                dest.parent.mkdir(parents=True, exist_ok=True)
                with z.open(info) as src, open(dest, "wb") as out:
                    while chunk := src.read(1 << 20):
                        written += len(chunk)
                        if written > MAX_BYTES:
                            raise Refused(f"more than {MAX_BYTES // 2**20} MB unpacked")
                        out.write(chunk)
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError) as e:
        _remove(target)
        raise Refused(f"not a readable zip ({e})") from None
    except Refused:
        _remove(target)
        raise
    return target


def _check_entry(info: zipfile.ZipInfo) -> None:
    name = info.filename
    path = PurePosixPath(name.replace("\\", "/"))
    if not path.parts or path.is_absolute() or name.startswith(("/", "\\")) or ":" in path.parts[0]:
        raise Refused(f"the entry {name!r} has an absolute path")
    if ".." in path.parts:
        raise Refused(f"the entry {name!r} leaves the folder it is unpacked into")
    if stat.S_ISLNK(info.external_attr >> 16):
        raise Refused(f"the entry {name!r} is a symbolic link")


def _remove(target: Path) -> None:
    shutil.rmtree(target, ignore_errors=True)
