"""What the `learn` commands share: the two consoles, usage errors, help pages, and finding the
course, a stage, a tree and the learner's progress from what was typed on the command line.

Every command module imports from here and never from another command, so that each command
reads on its own.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.text import Text
from typer.core import TyperCommand, TyperGroup

from learn import ROOT, manifest, progress
from learn.manifest import Stage

out = Console(highlight=False)
err = Console(stderr=True, highlight=False, soft_wrap=True)  # one message, one line


def tell(message: str) -> None:
    """A line on stdout that names a file or a command to copy: whole, never broken at the terminal's width."""
    out.print(message, soft_wrap=True)


#: The tree graded by default and the one whose passes unlock stages: the course's stages/.
DEFAULT_TREE = ROOT / "stages"
#: Where commands write pictures (learn show): git-ignored, like .learn/.
OUT = ROOT / "out"


class _PlainHelp:
    """Help pages without typer's decorations: `STAGE`, not `{STAGE}`, in the usage line (a
    required argument is written bare, as everywhere else), and no `<bool>` after a flag, which
    takes no value."""

    def collect_usage_pieces(self, ctx) -> list[str]:
        return [piece.strip("{}") for piece in super().collect_usage_pieces(ctx)]

    def get_params(self, ctx) -> list:
        params = super().get_params(ctx)
        for param in params:
            if getattr(param, "is_flag", False):
                param.metavar = ""  # the help shows an option's metavar in place of its type
        return params


class Command(_PlainHelp, TyperCommand):
    """Every `learn` command: `app.command(cls=Command)`."""


class Group(_PlainHelp, TyperGroup):
    """`learn` and `learn show`: `typer.Typer(cls=Group)`."""


def command_group(help: str) -> typer.Typer:
    """A `learn` command group (the app itself, or `learn show`): plain help, no shell-completion
    options, and no rich tracebacks (a learner sees one line, never a traceback)."""
    return typer.Typer(cls=Group, help=help, no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)


def plural(n: int, word: str) -> str:
    """plural(1, "head") -> "1 head"; plural(4, "head") -> "4 heads"."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def usage_error(message: str) -> typer.Exit:
    """One line on stderr and exit code 2: for bad input and locked stages."""
    error_line(message)
    return typer.Exit(2)


def error_line(message: str) -> None:
    """Print "error: MESSAGE" (rich markup) on stderr. Under `learn pretrain --nproc` it is also left
    in $LEARN_RANK_ERRORS/<rank>.txt with the time, where the launcher (learn/cli/launch.py) finds
    which rank failed first, and why."""
    err.print(f"[bold red]error:[/] {message}")
    folder = os.environ.get("LEARN_RANK_ERRORS")
    if folder:
        try:
            Path(folder, f"{int(os.environ.get('RANK', 0))}.txt").write_text(f"{time.time()}\n{Text.from_markup(message).plain}\n")
        except (OSError, ValueError):
            pass  # the line above said it


def say_containment() -> None:
    """One line on stderr where a grading of others' code gets only partial containment here."""
    from learn.judge import bwrap

    level, why = bwrap.level()
    if level != bwrap.SANDBOX:
        err.print(f"[bold yellow]containment: {level}[/] ({escape(why)}): students' code runs without the sandbox, "
                  "and every report says so")  # fmt: skip


def load_course() -> list[Stage]:
    try:
        return manifest.load()
    except FileNotFoundError:
        raise usage_error(f"no curriculum.toml in {ROOT}: install the course from its folder with `pip install -e .`") from None
    except (OSError, manifest.ManifestError) as e:
        raise usage_error(f"cannot read the course manifest: {e}") from None


def pick_stage(name: str, course: list[Stage], prog: progress.Progress | None = None) -> Stage:
    """The stage named on the command line; with `prog`, refuse it while it is locked."""
    try:
        stage = manifest.find(name, course)
    except manifest.UnknownStage as e:
        raise usage_error(str(e)) from None
    blocker = prog.blocker(stage, course) if prog is not None else None
    if blocker is not None:
        raise usage_error(f"{stage.id} is locked: pass {blocker.id} ({blocker.title}) first, with `learn check {blocker.id}`")
    if not stage.ready:
        raise usage_error(f"{stage.id} ({stage.title}) is coming in a later release; `learn status` shows what is ready")
    return stage


def load_progress() -> progress.Progress:
    try:
        prog = progress.load()
    except progress.ProgressError as e:
        raise usage_error(str(e)) from None
    if prog.warning:
        err.print(f"[yellow]warning:[/] {prog.warning}")
    return prog


def next_step(prog: progress.Progress, course: list[Stage]) -> str:
    """What to run next, by the one rule of learn/progress.py."""
    nxt = prog.next_stage(course)
    if nxt is None:
        return "every stage has passed: congratulations!"
    if not nxt.ready:
        return f"every ready stage has passed; {nxt.id} ({nxt.title}) is coming next"
    return f"learn lesson {nxt.id}   then   learn check {nxt.id}"


def output_file(name: str) -> Path:
    """out/<name> in the course folder, where commands write pictures; out/ is made when needed."""
    try:
        OUT.mkdir(exist_ok=True)
    except OSError as e:
        raise usage_error(escape(f"cannot make {OUT}/ ({e.strerror or e}); name a file to write with --out")) from None
    return OUT / name


def stage_folder(stage: Stage) -> Path:
    """The learner's own folder for `stage`, in the default tree."""
    return DEFAULT_TREE / stage.package


def pick_tree(impl: Optional[str], stage: Stage | None) -> Path:
    """The tree that --impl names (relative to here or to the course), or the default tree; it
    must hold `stage`'s package (with no stage, as for `learn check --all`, it need not)."""
    if impl is None:
        if stage is not None and not stage_folder(stage).is_dir():
            raise usage_error(f"stages/{stage.package}/ is missing; `learn reset {stage.id}` restores its skeleton")
        return DEFAULT_TREE
    path = Path(impl).expanduser()
    if not path.exists() and not path.is_absolute() and (ROOT / path).exists():
        path = ROOT / path  # `--impl solutions` works from any folder
    if not path.is_dir():
        raise usage_error(f"--impl {impl}: no such folder; give a tree, a folder holding the stage packages")
    if stage is not None and not (path / stage.package).is_dir():
        raise usage_error(f"--impl {impl}: holds no {stage.package}/ folder; a tree holds the stage packages")
    return path.resolve()


def find_tree(folder: Path, course: list[Stage]) -> Path:
    """`folder`, or the one folder inside it that holds the stage packages (a zipped folder,
    unpacked): how a handed-in submission is read (learn/judge/submissions.py)."""
    from learn.judge.submissions import tree_of

    return tree_of(folder, {s.package for s in course}) or folder


def shown(path: Path) -> Path:
    """A path as messages show it: relative to the course folder when it is inside it."""
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
