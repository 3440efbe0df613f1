"""`learn finetune classify|instruct` and `learn classify` on solutions/ (stages 1-6): a tiny
`learn pretrain` run, made here, fine-tuned for a step or two on made-up spam texts and
instructions, writes complete run folders; LoRA trains exactly its adapters; a GPT-2-format
safetensors file made here starts a run as `--init gpt2` would; bad input is one line and a
non-zero exit. No network: every file is in tmp_path."""

from __future__ import annotations

import json
import os
import shutil

import pytest
import torch
from typer.testing import CliRunner

from conftest import copy_solutions
from learn import cli, data, tasks
from learn.cli import finetune

runner = CliRunner()
PNG = b"\x89PNG\r\n\x1a\n"


def learn(*args):
    return runner.invoke(cli.app, [str(a) for a in args])


def one_line(result, said: str, code: int = 2) -> None:
    assert result.exit_code == code, result.output
    assert said in result.output and "Traceback" not in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1, result.output


def classify_run(solution_files, run, *more):
    return learn("finetune", "classify", "--impl", "solutions", "--init", solution_files / "pretrained", "--data",
                 solution_files / "spam.tsv",
                 "--epochs", 1, "--run", run, "--json", *more)  # fmt: skip


def lora_count(config: dict, rank: int, classes: int) -> int:
    """rank * (in + out) for every Linear of the classifier: q, k, v, out_proj, the two of the
    feed-forward in each block, and the new head."""
    d = config["emb_dim"]
    return config["n_layers"] * rank * (4 * 2 * d + 2 * (d + 4 * d)) + rank * (d + classes)


def test_classify_writes_a_run_and_classifies(solution_files, tmp_path):
    run = tmp_path / "classifier"
    result = classify_run(solution_files, run)
    assert result.exit_code == 0, result.output
    summary = json.loads((run / "summary.json").read_text())
    assert json.loads(result.stdout) == summary
    assert summary["split"] == {"train": 42, "validation": 6, "test": 12}  # 30 + 30 after balancing: 70/10/20
    assert all(0 <= summary[f"{k}_accuracy"] <= 1 for k in ("train", "val", "test"))
    matrix = summary["confusion_matrix"]
    assert sum(n for row in matrix.values() for n in row.values()) == 12
    right = matrix["actual ham"]["predicted ham"] + matrix["actual spam"]["predicted spam"]
    assert right == round(summary["test_accuracy"] * 12)
    info = json.loads((run / "run.json").read_text())
    assert info["task"] == "classify" and summary["pad_token_id"] == 299  # the tokenizer's <|endoftext|>, its last id
    assert summary["steps"] == 5 and summary["trainable_parameters"] < summary["parameters"]
    assert summary["planned_steps"] == 5 and summary["stopped"] is False
    assert set(summary["time"]) == {"loading", "training", "evaluations", "final_evaluation"}
    assert summary["time"]["evaluations"] <= summary["time"]["training"]
    assert (run / "loss.png").read_bytes()[:8] == PNG and (run / "accuracy.png").read_bytes()[:8] == PNG
    assert (run / "tokenizer.json").read_bytes() == (solution_files / "pretrained" / "tokenizer.json").read_bytes()

    said = learn("classify", "win cash now", "--impl", "solutions", "--run", run)
    assert said.exit_code == 0, said.output
    assert said.stdout.strip() in ("spam", "not spam")

    again = classify_run(solution_files, run)  # a run folder is never overwritten
    one_line(again, "holds a run already")
    assert json.loads((run / "summary.json").read_text()) == summary

    info["config"]["emb_dim"] = 64  # a checkpoint that is not of the run's model
    (run / "run.json").write_text(json.dumps(info))
    one_line(learn("classify", "win cash now", "--impl", "solutions", "--run", run), "another model", code=1)


def test_lora_trains_its_adapters_alone(solution_files, tmp_path):
    run = tmp_path / "lora"
    result = classify_run(solution_files, run, "--lora", 2, "--lora-alpha", 4)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["lora"] == {"rank": 2, "alpha": 4.0}
    assert summary["trainable_parameters"] == lora_count(summary["config"], 2, 2)
    said = learn("classify", "see you at lunch", "--impl", "solutions", "--run", run)
    assert said.exit_code == 0 and said.stdout.strip() in ("spam", "not spam"), said.output


def test_instruct_writes_responses_and_the_objective_evaluation(solution_files, tmp_path):
    run = tmp_path / "instruct"
    result = learn("finetune", "instruct", "--impl", "solutions", "--init", solution_files / "pretrained", "--data",
                   solution_files / "instructions.json",
                   "--tasks", 16, "--eval-tasks", 8, "--epochs", 1, "--max-new-tokens", 4, "--mask-prompt", "--run", run, "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["split"] == {"train": 25, "test": 3, "validation": 2} and summary["left_out"] == 0  # the book's 85/10/5
    assert summary["steps"] == (25 + 16) // 8 and summary["trainable_parameters"] == summary["parameters"]
    assert set(summary["time"]) == {"loading", "training", "evaluations", "final_evaluation", "responses"}
    assert 0 <= summary["exact_match_before"] <= 1 and 0 <= summary["exact_match_after"] <= 1
    assert sum(k["tasks"] for k in summary["exact_match_by_kind"].values()) == 8
    assert summary["val_loss"] > 0 and summary["val_loss_before"] > 0
    responses = json.loads((run / "instruction-data-with-response.json").read_text())
    entries = json.loads((solution_files / "instructions.json").read_text())
    assert [{k: r[k] for k in ("instruction", "input", "output")} for r in responses] == entries[25:28]
    assert all(isinstance(r["model_response"], str) for r in responses)
    scored = json.loads((run / "tasks.json").read_text())
    assert [s["kind"] for s in scored] == list(tasks.KINDS)
    assert all(s["correct_after"] == tasks.exact_match(s["response_after"], s["output"]) for s in scored)
    assert (run / "loss.png").read_bytes()[:8] == PNG


def write_safetensors(path, tensors: dict) -> None:
    """The safetensors layout: 8 bytes of header length (little-endian), a JSON header, the data."""
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, t in tensors.items():
        blob = t.contiguous().numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    head = json.dumps(header).encode()
    head += b" " * (-len(head) % 8)
    path.write_bytes(len(head).to_bytes(8, "little") + head + b"".join(blobs))


def gpt2_tensors(vocab: int, context: int, d: int, layers: int) -> dict:
    """GPT-2's tensors by Hugging Face's names and shapes (Conv1D weights are (in, out)), small."""
    g = torch.Generator().manual_seed(0)
    rand = lambda *shape: torch.randn(*shape, generator=g) * 0.02  # noqa: E731
    t = {"wte.weight": rand(vocab, d), "wpe.weight": rand(context, d)}
    for i in range(layers):
        t |= {f"h.{i}.ln_1.weight": torch.ones(d), f"h.{i}.ln_1.bias": torch.zeros(d),
              f"h.{i}.attn.c_attn.weight": rand(d, 3 * d), f"h.{i}.attn.c_attn.bias": rand(3 * d),
              f"h.{i}.attn.c_proj.weight": rand(d, d), f"h.{i}.attn.c_proj.bias": rand(d),
              f"h.{i}.ln_2.weight": torch.ones(d), f"h.{i}.ln_2.bias": torch.zeros(d),
              f"h.{i}.mlp.c_fc.weight": rand(d, 4 * d), f"h.{i}.mlp.c_fc.bias": rand(4 * d),
              f"h.{i}.mlp.c_proj.weight": rand(4 * d, d), f"h.{i}.mlp.c_proj.bias": rand(d)}  # fmt: skip
    return t | {"ln_f.weight": torch.ones(d), "ln_f.bias": torch.zeros(d)}


@pytest.mark.skipif(not os.environ.get("TIKTOKEN_CACHE_DIR"), reason="GPT-2's tokenizer files are not cached")
def test_a_gpt2_file_starts_a_run(solution_files, tmp_path):
    """GPT-2's layout at 64 dimensions (1 head of 64), 1 block, context 32: the run keeps only what
    is not GPT-2's published weights, and `learn classify` rebuilds the rest from the file."""
    weights = tmp_path / "gpt2-tiny.safetensors"
    write_safetensors(weights, gpt2_tensors(50257, 32, 64, 1))
    run = tmp_path / "from-gpt2"
    result = learn("finetune", "classify", "--impl", "solutions", "--init", weights, "--data",
                   solution_files / "spam.tsv",
                   "--epochs", 1, "--run", run, "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["init"] == {"kind": "gpt2", "file": str(weights)} and summary["tokenizer"] == "gpt2"
    assert summary["pad_token_id"] == 50256
    assert summary["config"] == {"vocab_size": 50257, "context_length": 32, "emb_dim": 64, "n_heads": 1, "n_layers": 1,
                                 "drop_rate": 0.0, "qkv_bias": True}  # fmt: skip
    kept = torch.load(run / "checkpoint.pt", weights_only=True)["model"]
    assert "tok_emb.weight" not in kept and "pos_emb.weight" not in kept  # GPT-2's, unchanged: read from the file again
    assert kept["out_head.weight"].shape == (2, 64) and "trf_blocks.0.att.W_query.weight" in kept  # the last block trained
    said = learn("classify", "win cash now", "--impl", "solutions", "--run", run)
    assert said.exit_code == 0 and said.stdout.strip() in ("spam", "not spam"), said.output


def test_gpt2_offline_says_which_file_to_put_where(solution_files, tmp_path, monkeypatch):
    monkeypatch.setattr(data, "CACHE", tmp_path / "cache")
    monkeypatch.delenv("LEARN_DATA_DIR", raising=False)
    monkeypatch.setitem(data.DATASETS, "gpt2-124m.safetensors", data.DataSet((tmp_path / "nowhere").as_uri(), "0" * 64, "GPT-2"))
    result = learn("finetune", "classify", "--impl", "solutions", "--init", "gpt2", "--data",
                   solution_files / "spam.tsv", "--run", tmp_path / "r")
    one_line(result, "cannot download gpt2-124m.safetensors")
    assert str(tmp_path / "cache" / "gpt2-124m.safetensors") in result.output  # where to put the file
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    ("content", "said"),
    [(None, "no such file"), ("", "empty"), ("spam\tfree\nmaybe\tnot a label\n", "line 2"), ("spam\twin\n" * 20, "too few texts")],
    ids=["missing", "empty", "bad label", "one label"],
)
def test_bad_spam_data_is_one_line(solution_files, tmp_path, content, said):
    path = tmp_path / "spam.tsv"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    result = learn("finetune", "classify", "--impl", "solutions", "--init", solution_files / "pretrained", "--data",
                   path, "--run", tmp_path / "r")
    one_line(result, said)
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    ("content", "said"), [("[{oops", "not JSON"), ('[{"instruction": 3, "output": "x"}]', "entry 0")], ids=["not JSON", "bad entry"]
)
def test_bad_instruction_data_is_one_line(solution_files, tmp_path, content, said):
    path = tmp_path / "data.json"
    path.write_text(content, encoding="utf-8")
    result = learn("finetune", "instruct", "--impl", "solutions", "--init", solution_files / "pretrained", "--data",
                   path, "--run", tmp_path / "r")
    one_line(result, said)


def test_bad_settings_and_runs(solution_files, tmp_path):
    base = ("finetune", "classify", "--impl", "solutions", "--data", solution_files / "spam.tsv", "--run",
            tmp_path / "r")
    one_line(learn(*base, "--init", solution_files / "pretrained", "--lora", 0), "LoRA rank")
    for alpha in (0, -4, "nan"):
        one_line(learn(*base, "--init", solution_files / "pretrained", "--lora", 16, "--lora-alpha", alpha),
                 "positive number")
    empty = tmp_path / "empty"
    empty.mkdir()
    one_line(learn(*base, "--init", empty), "no readable run")
    one_line(learn(*base, "--init", tmp_path / "missing.safetensors"), "no such file")
    finetuned = tmp_path / "finetuned"
    shutil.copytree(solution_files / "pretrained", finetuned)
    info = json.loads((finetuned / "run.json").read_text())
    (finetuned / "run.json").write_text(json.dumps({**info, "task": "classify"}))
    one_line(learn(*base, "--init", finetuned), "is a `learn finetune classify` run")
    one_line(learn("classify", "hello", "--impl", "solutions", "--run", solution_files / "pretrained"),
             "not a finished `learn finetune classify` run")
    assert not (tmp_path / "r").exists()


def test_split_is_the_books():
    rows = [[1, f"spam {i}"] for i in range(30)] + [[0, f"ham {i}"] for i in range(100)]
    splits = finetune.split_spam(rows)
    assert [len(s) for s in splits.values()] == [42, 6, 12]
    together = [r for s in splits.values() for r in s]
    assert sum(label for label, _ in together) == 30 and len({t for _, t in together}) == 60
    assert finetune.split_spam(rows) == splits
    entries = [{"instruction": str(i), "input": "", "output": ""} for i in range(1100)]
    parts = finetune.split_instructions(entries)
    assert [len(parts[k]) for k in ("train", "test", "validation")] == [935, 110, 55]  # the book's


def test_generated_tasks_have_right_answers_and_keep_test_words_apart():
    train, test = tasks.make_tasks(400, "train"), tasks.make_tasks(80, "test")
    assert tasks.make_tasks(80, "test") == test and {t["kind"] for t in test} == set(tasks.KINDS)
    for t in train + test:
        word = t["instruction"].split('"')[1] if '"' in t["instruction"] else None
        if t["kind"] == "backwards":
            assert t["output"] == word[::-1]
        elif t["kind"] == "count":
            assert t["output"] == str(len(word))
        elif t["kind"] == "sum":
            a, b = (int(x) for x in t["instruction"][len("What is ") : -1].split(" plus "))
            assert t["output"] == str(a + b)
    quoted = lambda ts: {t["instruction"].split('"')[1] for t in ts if '"' in t["instruction"]}  # noqa: E731
    assert not quoted(train) & quoted(test)
    assert tasks.exact_match(" Seven. ", "seven") and not tasks.exact_match("seven eight", "seven")


def test_an_accuracy_returned_as_a_tensor_still_makes_a_summary(solution_files, tmp_path):
    """calc_accuracy_loader returning tensor(0.9) passes its check (a one-element tensor is a
    number there); the engine stores floats, never the tensor, which JSON refuses."""
    tree = copy_solutions(tmp_path / "tree")
    path = tree / "stage6_finetune" / "classify.py"
    path.write_text(path.read_text().replace("    return correct_predictions / num_examples",
                                             "    return torch.tensor(correct_predictions / num_examples)"))  # fmt: skip
    run = tmp_path / "run"
    result = learn("finetune", "classify", "--impl", tree, "--init", solution_files / "pretrained", "--data",
                   solution_files / "spam.tsv",
                   "--epochs", 1, "--run", run, "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert type(json.loads((run / "summary.json").read_text())["test_accuracy"]) is float


def test_a_run_out_of_budget_says_so_and_where_the_time_went(solution_files, tmp_path):
    """--max-seconds 1 is spent before the first step (the worker's start-up): no step is trained,
    and the summary and the screen say so, honestly: stopped, 0 of 5 planned steps, and why."""
    run = tmp_path / "short"
    result = learn("finetune", "classify", "--impl", "solutions", "--init", solution_files / "pretrained",
                   "--data", solution_files / "spam.tsv", "--epochs", 1, "--run", run, "--max-seconds", 1)  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads((run / "summary.json").read_text())
    assert summary["stopped"] is True and summary["steps"] == 0 and summary["planned_steps"] == 5
    assert "time: loading " in result.output and "final evaluation" in result.output
    assert "trained 0 of 5 planned steps: the budget ran out" in result.output
