"""`learn show`: pictures of what your code computes.

    learn show attention "Your journey starts with one step"
    learn show attention "The cat sat on the mat because it was tired" --heads 2 --out cat.png

`attention` writes a PNG heatmap of your MultiHeadAttention's weights, one panel per head: row i
is the query token, column j the key token, the colour how much token i attends to token j. It goes
to out/attention.png in the course folder (out/ is git-ignored, made when needed) unless --out
names another file, and the command prints where it wrote it.

Tokens. The sentence is cut into words and runs of punctuation. That works offline and needs no
trained tokenizer (tiktoken's gpt2 files are downloaded on first use, which a fresh offline
install can't do), and whole words make readable tick labels.

What is drawn. Nothing is trained at stage 3, so the inputs and the query and key projections are
random but fixed by --seed: each token's vector comes from a generator seeded by --seed and the
token's text (the same word always gets the same vector), plus a position vector. The picture
shows the causal structure (nothing above the diagonal, every row sums to 1) and how differently
each head spreads its weights; a trained model (stage 5) has sharper, meaningful patterns.

Where your code runs. Never in this process: a worker, contained as the grader's are
(learn/judge/workers.py), runs the probe of learn/engine/show.py on your tree (its docstring says
how it reads the weights through your forward) and sends them back as plain lists; this process
then draws them with matplotlib's Agg backend. Neither torch nor matplotlib is imported when this
module is (the CLI must start fast).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from learn.cli.console import Command, command_group, err, load_course, output_file, pick_stage, pick_tree, plural, shown, tell, usage_error
from learn.manifest import Stage

app = command_group("Draw what your code computes (writes an image, grades nothing).")

MAX_TOKENS = 24  # beyond this the tick labels can't be read
TIMEOUT = 60  # seconds the learner's code may take


def tokenize(sentence: str) -> list[str]:
    """Words and runs of punctuation; whitespace dropped.

    Example: tokenize("Your journey starts.") -> ["Your", "journey", "starts", "."]
    """
    return re.findall(r"\w+|[^\w\s]+", sentence)


@app.command(cls=Command)
def attention(
    sentence: str = typer.Argument(..., metavar="SENTENCE", help="The text to look at, in quotes."),
    impl: Optional[str] = typer.Option(None, "--impl", metavar="TREE", help="Use the stage3_attention of this tree instead of stages/ (e.g. solutions)."),
    png: Optional[Path] = typer.Option(None, "--out", metavar="PNG", help="The picture to write (default: out/attention.png in the course folder)."),
    heads: int = typer.Option(4, "--heads", metavar="N", min=1, max=8, help="num_heads: one panel per head."),
    seed: int = typer.Option(123, "--seed", metavar="N", help="Seeds the random token vectors and projections."),
    run: Optional[str] = typer.Option(None, "--run", metavar="NAME|DIR", help="Draw a trained model instead: a `learn pretrain` run."),
    layer: int = typer.Option(-1, "--layer", metavar="N", help="With --run: the transformer block (0 is the first, -1 the last)."),
):  # fmt: skip
    """Heatmap of your MultiHeadAttention's weights over a sentence, one panel per head."""
    if not sentence.strip():
        raise usage_error("the sentence is empty: give some words, e.g. learn show attention \"Your journey starts with one step\"")
    png = _picture(png)
    if run is not None:
        return _trained(sentence, run, layer, impl, png)
    stage = pick_stage("stage3", load_course())
    tree = pick_tree(impl, stage)
    tokens = tokenize(sentence)
    if len(tokens) > MAX_TOKENS:
        raise usage_error(f"the sentence has {len(tokens)} tokens; at most {MAX_TOKENS} fit a readable heatmap")

    with err.status(f"running your MultiHeadAttention from {tree}..."):
        result = _run_learner_code(stage, tree, tokens, heads, seed)
    if "error" in result:
        unfinished = result["error"].startswith("not implemented yet")
        hint = f"; finish {stage.id} first (`learn check {stage.id}` says what is left)" if unfinished else ""
        err.print(f"[bold red]error:[/] {escape(result['error'] + hint)}")
        raise typer.Exit(1)
    _write(result["weights"], tokens, png, f"MultiHeadAttention from {shown(tree)}/ (untrained, seed {seed})")


def _picture(png: Optional[Path]) -> Path:
    """--out, checked, or out/attention.png."""
    png = (png or output_file("attention.png")).expanduser().resolve()
    if not png.parent.is_dir():
        raise usage_error(escape(f"--out {png}: the folder {png.parent} does not exist"))
    if png.suffix.lower() != ".png":
        raise usage_error(escape(f"--out {png.name}: the picture is a PNG; give a name ending in .png"))
    return png


def _trained(sentence: str, run: str, layer: int, impl: Optional[str], png: Path) -> None:
    """learn show attention --run: a pretraining run's heads on the sentence, in its own tokens."""
    from learn.cli.runs import failed, packages_through, read_run, run_folder, workers_reading
    from learn.judge.workers import ProbeFailed

    tree = pick_tree(impl, None)
    packages = packages_through(5, tree, "learn show attention --run")
    folder = run_folder(run)
    _, checkpoint, tokenizer = read_run(folder)
    engine, checkpoint = workers_reading(tree, packages, checkpoint, gpt2=tokenizer is None)
    kwargs = {"checkpoint": checkpoint, "tokenizer": tokenizer, "sentence": sentence, "layer": layer}
    try:
        with err.status(f"running your GPTModel from {shown(folder)}/..."):
            result = engine.run("learn.engine.show:probe_trained_attention", kwargs, TIMEOUT, package="stage5_pretrain")
    except ProbeFailed as e:
        raise failed(e) from None
    finally:
        engine.close()
    if len(result["tokens"]) > MAX_TOKENS:
        raise usage_error(f"the sentence is {len(result['tokens'])} tokens of this run's tokenizer; at most {MAX_TOKENS} fit a readable heatmap")
    tokens = [t.replace(" ", "\u00b7").replace("\n", "\\n") for t in result["tokens"]]  # a token's spaces shown as middle dots
    block = "the last block" if layer == -1 else f"block {layer}"
    _write(result["weights"], tokens, png, f"{block} of the model in {shown(folder)}/ (trained; spaces shown as \u00b7)")


def _write(weights: list, tokens: list[str], png: Path, title: str) -> None:
    try:
        _draw(weights, tokens, png, title)
    except OSError as e:
        raise usage_error(escape(f"cannot write {png}: {e.strerror or e}")) from None
    tell(f"wrote {escape(str(png))}: {plural(len(weights), 'head')} x {plural(len(tokens), 'token')}")


def _run_learner_code(stage: Stage, tree: Path, tokens: list[str], heads: int, seed: int) -> dict:
    """The weights {"weights": [head][query][key]}, computed in a worker on the learner's code,
    or {"error": one line}; never raises for the learner's bugs (a crash, os._exit or a hang)."""
    from learn.judge import reaper
    from learn.judge.workers import ProbeFailed, Workers
    from learn.shared.limits import Limits

    reaper.guard_this_process()
    workers = Workers([stage.package], tree, Limits(address_space=stage.memory_mb * 2**20))
    try:
        kwargs = {"tokens": tokens, "heads": heads, "seed": seed}
        weights = workers.run("learn.engine.show:probe_attention_weights", kwargs, TIMEOUT, package=stage.package)
        return {"weights": weights}
    except ProbeFailed as e:
        return {"error": str(e)}
    finally:
        workers.close()


def _draw(weights: list, tokens: list[str], out: Path, title: str) -> None:
    """One heatmap per head, tokens as tick labels; matplotlib's Agg backend, no pyplot."""
    import warnings

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    heads, n = len(weights), len(tokens)
    labels = [t.replace("$", r"\$") for t in tokens]  # "$" would start mathtext
    cols = min(heads, 4)
    rows = -(-heads // cols)
    side = 1.2 + 0.32 * n  # inches per panel
    fig = Figure(figsize=(cols * side + 1.2, rows * side + 0.8), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False)
    image = None
    for h, ax in enumerate(axes.flat):
        if h >= heads:
            ax.set_axis_off()
            continue
        image = ax.imshow(weights[h], vmin=0.0, vmax=1.0, cmap="viridis")
        if n <= 8:  # few tokens: print each weight, to compare with a computation by hand
            for i in range(n):
                for j in range(i + 1):
                    w = weights[h][i][j]
                    ax.text(j, i, f"{w:.2f}", ha="center", va="center", fontsize=7, color="black" if w > 0.6 else "white")
        ax.set_xticks(range(n), labels, rotation=90, fontsize=8)
        ax.set_yticks(range(n), labels, fontsize=8)
        ax.set_title(f"head {h}", fontsize=10)
        ax.set_xlabel("key: the token attended to", fontsize=8)
        if h % cols == 0:
            ax.set_ylabel("query: the token attending", fontsize=8)
    fig.colorbar(image, ax=axes, shrink=0.8, label="attention weight")
    fig.suptitle(title, fontsize=10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Glyph missing" for emoji and the like
        fig.savefig(out, dpi=120)
