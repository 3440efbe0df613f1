"""`learn reset`: restore a stage's skeleton files, keeping a backup of the learner's."""

from __future__ import annotations

import typer

from learn.cli.console import load_course, out, pick_stage, plural, stage_folder, usage_error


def reset(
    stage_name: str = typer.Argument(..., metavar="STAGE", help="stage3, or just 3"),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask."),
):
    """Restore a stage's skeleton files in stages/, keeping a backup of yours."""
    from learn.skeleton import backup_folder, differing, pristine_files, replace_files

    stage = pick_stage(stage_name, load_course())
    try:
        files = pristine_files(stage)
    except FileNotFoundError as e:
        raise usage_error(f"{e}; use `git checkout -- stages/{stage.package}` to restore the files") from None
    dest = stage_folder(stage)
    changed = differing(dest, files)
    if not changed:
        out.print(f"stages/{stage.package}/ is already the untouched skeleton")
        return
    if not yes and not _confirm(f"Restore {', '.join(changed)} in stages/{stage.package}/ to the skeleton?"):
        out.print(f"nothing changed: stages/{stage.package}/ is as it was")
        raise typer.Exit(1)  # 1, as when a check fails: the command did not do what it is for
    backup = backup_folder(stage.id)
    replace_files(dest, {rel: files[rel] for rel in changed}, backup)
    kept = f"; your previous version is in {backup}" if backup.exists() else ""
    out.print(f"restored {plural(len(changed), 'file')}{kept}")


def _confirm(question: str) -> bool:
    """The learner's yes or no; no when the input ends (a pipe) or on Ctrl-C."""
    try:
        return typer.confirm(question)
    except typer.Abort:
        out.print()  # the prompt left the line open
        return False
