"""`learn show`: pictures of what your code computes.

    learn show attention "Your journey starts with one step"
    learn show attention "The cat sat on the mat because it was tired" --heads 2 --out cat.png

`attention` writes a PNG heatmap of your MultiHeadAttention's weights, one panel per head: row i
is the query token, column j the key token, the colour how much token i attends to token j.

Tokens. The sentence is cut into words and runs of punctuation. That works offline and needs no
trained tokenizer (tiktoken's gpt2 files are downloaded on first use, which a fresh offline
install can't do), and whole words make readable tick labels.

What is drawn. Nothing is trained at stage 3, so the inputs and the query and key projections are
random but fixed by --seed: each token's vector comes from a generator seeded by --seed and the
token's text (the same word always gets the same vector), plus a position vector. The picture
shows the causal structure (nothing above the diagonal, every row sums to 1) and how differently
each head spreads its weights; a trained model (stage 5) has sharper, meaningful patterns.

How the weights are read. Through your forward alone, with no hook: the module is built with
d_in = 16 + T and d_out = heads * T (so head_dim = T), the last T input features are one-hot
positions, W_value copies them into every head (token j's value is e_j) and out_proj is the
identity. Each context vector is then sum_j w_ij e_j: output[0, i, h * T + j] is exactly head h's
weight of query i on key j. The graded checks read weights the same way.

Where your code runs. Never in this process: a fresh Python runs `python -m learn.show REQUEST`
with the tree first on PYTHONPATH, the same rule as the grader (learn/grader.py), and sends the
weights back as JSON; this process then draws them with matplotlib's Agg backend. Neither torch nor
matplotlib is imported when this module is (the CLI must start fast).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Optional

import typer

from learn import ROOT
from learn.isolation import explain, run_isolated

show_app = typer.Typer(
    help="Draw what your code computes (writes an image, grades nothing).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

MAX_TOKENS = 24  # beyond this the tick labels can't be read
D_MODEL = 16  # the width of each token's random vector
TIMEOUT = 60  # seconds the learner's code may take


def tokenize(sentence: str) -> list[str]:
    """Words and runs of punctuation; whitespace dropped.

    Example: tokenize("Your journey starts.") -> ["Your", "journey", "starts", "."]
    """
    return re.findall(r"\w+|[^\w\s]+", sentence)


@show_app.command()
def attention(
    sentence: str = typer.Argument(..., help="The text to look at, in quotes."),
    impl: Optional[str] = typer.Option(None, "--impl", help="Use the stage3_attention of this tree instead of stages/ (e.g. solutions)."),
    out: Path = typer.Option(Path("attention.png"), "--out", help="The PNG to write."),
    heads: int = typer.Option(4, "--heads", min=1, max=8, help="num_heads: one panel per head."),
    seed: int = typer.Option(123, "--seed", help="Seeds the random token vectors and projections."),
):  # fmt: skip
    """Heatmap of your MultiHeadAttention's weights over a sentence, one panel per head."""
    from rich.markup import escape

    from learn import cli  # here, not at the top: learn.cli imports this module

    stage = cli._stage("stage3", cli._course())
    tree = cli._tree(impl, stage)
    tokens = tokenize(sentence)
    if not tokens:
        raise cli.usage_error("the sentence is empty: give some words, e.g. learn show attention \"Your journey starts with one step\"")
    if len(tokens) > MAX_TOKENS:
        raise cli.usage_error(f"the sentence has {len(tokens)} tokens; at most {MAX_TOKENS} fit a readable heatmap")
    out = out.expanduser().resolve()
    if not out.parent.is_dir():
        raise cli.usage_error(escape(f"--out {out}: the folder {out.parent} does not exist"))
    if out.suffix.lower() != ".png":
        raise cli.usage_error(escape(f"--out {out.name}: the picture is a PNG; give a name ending in .png"))

    request = {"package": stage.package, "stage": stage.id, "tokens": tokens, "heads": heads, "seed": seed}
    with cli.err.status(f"running your MultiHeadAttention from {tree}..."):
        result = _run_learner_code(tree, request)
    if "error" in result:
        cli.err.print(f"[bold red]error:[/] {escape(result['error'])}")
        raise typer.Exit(1)
    where = tree.relative_to(ROOT) if tree.is_relative_to(ROOT) else tree
    try:
        _draw(result["weights"], tokens, out, f"MultiHeadAttention from {where}/ (untrained, seed {seed})")
    except OSError as e:
        raise cli.usage_error(escape(f"cannot write {out}: {e.strerror or e}")) from None
    cli.out.print(f"wrote {escape(str(out))}: {heads} head(s) x {len(tokens)} tokens")


# ------------------------------------------------------------------ in the CLI's own process


def _run_learner_code(tree: Path, request: dict) -> dict:
    """Run the worker below in a fresh process with `tree` first on the import path.

    Returns {"weights": [head][query][key]} or {"error": one line}; never raises for the
    learner's bugs (a crash, sys.exit, os._exit or a hang included)."""
    with tempfile.TemporaryDirectory(prefix="learn-show-") as tmp:
        req, res, log = Path(tmp) / "request.json", Path(tmp) / "result.json", Path(tmp) / "stderr.txt"
        req.write_text(json.dumps({**request, "result": str(res)}), encoding="utf-8")
        with open(log, "wb") as err:
            code = run_isolated([sys.executable, "-m", "learn.show", str(req)], tree, TIMEOUT, subprocess.DEVNULL, err)
        if code is None:
            return {"error": f"your code ran for more than {TIMEOUT} s and was stopped: is a loop never ending?"}
        try:
            return json.loads(res.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            last = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-1:] or ["(no output)"]
            return {"error": f"the process running your code exited with code {code} before it "
                             f"finished (does your code call os._exit or crash?): {last[0]}"}  # fmt: skip


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


# ---------------------------------------------------- in the worker process, with the learner's code


def _attention_weights(package: str, tokens: list[str], heads: int, seed: int) -> list:
    """The learner's MultiHeadAttention weights (heads, T, T), read through forward (see the top)."""
    import importlib
    import zlib

    import torch

    mod = importlib.import_module(package)
    n, d = len(tokens), D_MODEL
    words = torch.stack([
        torch.randn(d, generator=torch.Generator().manual_seed(seed * 1_000_003 + zlib.crc32(t.lower().encode())))
        for t in tokens
    ])  # (T, D_MODEL): the same word always gets the same vector  # fmt: skip
    positions = torch.randn(n, d, generator=torch.Generator().manual_seed(seed)) * 0.5  # (T, D_MODEL)
    x = torch.cat([words + positions, torch.eye(n)], dim=-1).unsqueeze(0)  # (1, T, D_MODEL + T)

    torch.manual_seed(seed)
    mha = mod.MultiHeadAttention(d_in=d + n, d_out=heads * n, context_length=n, dropout=0.0, num_heads=heads)
    mha.eval()
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for lin in (mha.W_query, mha.W_key):
            w = torch.zeros(heads * n, d + n)
            w[:, :d] = torch.randn(heads * n, d, generator=g) * (1.5 / d) ** 0.5  # only the token vectors
            lin.weight.copy_(w)
            if lin.bias is not None:
                lin.bias.zero_()
        value = torch.zeros(heads * n, d + n)
        for h in range(heads):
            value[h * n:(h + 1) * n, d:] = torch.eye(n)  # token j's value is e_j in every head
        mha.W_value.weight.copy_(value)
        if mha.W_value.bias is not None:
            mha.W_value.bias.zero_()
        mha.out_proj.weight.copy_(torch.eye(heads * n))
        mha.out_proj.bias.zero_()
        out = mha(x)
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (1, n, heads * n):
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise _Wrong(f"MultiHeadAttention returned {got}, expected shape {(1, n, heads * n)} (B, T, d_out)")
    if not bool(torch.isfinite(out).all()):
        raise _Wrong("MultiHeadAttention returned NaN or inf: is a whole row of scores masked?")
    return out[0].view(n, heads, n).transpose(0, 1).tolist()  # (T, heads, T) -> (heads, T, T)


class _Wrong(Exception):
    """The learner's code ran but its result can't be drawn."""


def _explain(e: BaseException, stage: str) -> str:
    """One line about the learner's failure, with what to run next."""
    if isinstance(e, _Wrong):
        return f"{e}; `learn check {stage}` tells you more"
    if isinstance(e, NotImplementedError):
        return f"{stage} is {explain(e)}; write it, then run `learn check {stage}`"
    return f"{explain(e)}; `learn check {stage}` tells you more"


def _worker(request_path: str) -> int:
    request = json.loads(Path(request_path).read_text(encoding="utf-8"))
    try:
        result = {"weights": _attention_weights(request["package"], request["tokens"], request["heads"], request["seed"])}
    except BaseException as e:  # the learner's bugs, SystemExit and KeyboardInterrupt included
        result = {"error": " ".join(_explain(e, request["stage"]).split())}
    Path(request["result"]).write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":  # python -m learn.show REQUEST: the worker, with the learner's tree first
    sys.exit(_worker(sys.argv[1]))
