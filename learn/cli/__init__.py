"""The `learn` command: status, lesson, check, reset, gradebook, show, pretrain, prepare, generate, finetune, classify.

Exit codes: 0 success (every check passed); 1 the command ran but did not do its job (a check
failed, the learner's code failed in `learn show`, a reset was declined); 2 usage error or locked
stage; 3 the grader itself failed (`learn check`; its log is written to .learn/logs/).
Start-up stays light: nothing here imports torch; the checks run in a separate process, and the
engine's probes are named, not imported ("learn.engine.pretrain:probe_generate"): the worker imports them.

One module per command (learn/cli/status.py, ...); what they share, the consoles and finding the
course, a stage and a tree, is in learn/cli/console.py.
"""

from __future__ import annotations

from learn.cli import check, classify, finetune, generate, gradebook, lesson, prepare, pretrain, reset, show, status
from learn.cli.console import Command, command_group

app = command_group("Build a GPT from scratch, one graded stage at a time.")
for command in (
    status.status, lesson.lesson, check.check, reset.reset, gradebook.gradebook, pretrain.pretrain, prepare.prepare,
    generate.generate, classify.classify,
):
    app.command(cls=Command)(command)
app.add_typer(show.app, name="show", help="Draw what your code computes, e.g. `learn show attention \"a sentence\"`.")
app.add_typer(finetune.app, name="finetune", help="Fine-tune your GPT: `learn finetune classify` (spam) or `learn finetune instruct`.")


def main() -> None:  # `python -m learn`
    app()
