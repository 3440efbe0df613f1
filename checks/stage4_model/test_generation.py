"""Graded checks for stage 4, text generation (lessons/stage4_model.md, §8-§9).

References: greedy ids of the tiny stored model (fixtures/stage4_model/tiny_gpt.json), and stub
models whose logits the check controls, so that generation is graded apart from GPTModel:
FixedLogits gives the same next-token logits at every step, Bigram gives fixed random logits for
each last token, Counter predicts (last token + 1) and records every input it sees. Sampled ids
are judged by their distribution over many draws, never by the exact draws.
"""

import json

import torch
import torch.nn as nn
import torch.nn.functional as F

from learn.checking import expect, expect_equal, fixture

PKG = "stage4_model"
TINY = json.loads(fixture(PKG, "tiny_gpt.json").read_text(encoding="utf-8"))
GREEDY = TINY["greedy"]


def load_stored_model(learner):
    """The tiny GPTModel with the stored weights (test_model.py grades the loading itself)."""
    model = learner.GPTModel(dict(TINY["config"]))
    weights = {n: torch.tensor(p["values"], dtype=torch.float32).view(p["shape"]) for n, p in TINY["state_dict"].items()}
    params = {n for n, _ in model.named_parameters()}
    for name, value in model.state_dict().items():
        if name not in params:
            weights.setdefault(name, value)  # buffers such as the causal mask are not stored
    model.load_state_dict(weights, strict=True)
    return model.eval()


class FixedLogits(nn.Module):
    """The same logits at every position, whatever the ids."""

    def __init__(self, logits):
        super().__init__()
        self.register_buffer("row", torch.as_tensor(logits, dtype=torch.float32))

    def forward(self, idx):
        return self.row.expand(idx.shape[0], idx.shape[1], -1).clone()  # (B, T, vocab)


class Counter(nn.Module):
    """Predicts (token + 1) % vocab_size with near certainty, and records each input."""

    def __init__(self, vocab_size=32):
        super().__init__()
        self.vocab_size = vocab_size
        self.seen = []

    def forward(self, idx):
        self.seen.append(idx.clone())
        return F.one_hot((idx + 1) % self.vocab_size, self.vocab_size).float() * 100.0  # (B, T, vocab)


class Bigram(nn.Module):
    """Fixed random logits for each token: logits[b, t] = table[idx[b, t]]."""

    def __init__(self, vocab_size=20, seed=0):
        super().__init__()
        self.register_buffer("table", torch.randn(vocab_size, vocab_size, generator=torch.Generator().manual_seed(seed)))

    def forward(self, idx):
        return self.table[idx]  # (B, T, vocab)

    def greedy(self, prompt, n):
        """The oracle: follow the argmax of each last token's row n times."""
        ids = list(prompt)
        for _ in range(n):
            ids.append(int(self.table[ids[-1]].argmax()))
        return ids


def new_ids(out, prompt_len):
    return out[0, prompt_len:].tolist()


def test_greedy_matches_reference(learner):
    model = load_stored_model(learner)
    prompt = torch.tensor(GREEDY["prompt"])
    out = learner.generate_text_simple(model, prompt, GREEDY["max_new_tokens"], GREEDY["context_size"])
    expect_equal(out.tolist(), GREEDY["ids"],
                 f"generate_text_simple(stored tiny model, {GREEDY['prompt']}, {GREEDY['max_new_tokens']}, {GREEDY['context_size']})")


def test_temperature_zero_is_greedy(learner):
    stub = Bigram()
    for prompt in ([3], [7, 1, 12]):
        expected = [stub.greedy(prompt, 12)]
        ids = torch.tensor([prompt])
        for kwargs in [{}, {"temperature": 0.0}, {"temperature": 0.0, "top_k": 3}]:
            call = f"generate(model, {[prompt]}, 12, 4{''.join(f', {k}={v}' for k, v in kwargs.items())})"
            expect_equal(learner.generate(stub, ids, 12, 4, **kwargs).tolist(), expected, f"{call}: the argmax each step")


def test_same_seed_same_sample(learner):
    stub = Bigram()
    prompt = torch.tensor([[3, 5]])
    draws = []
    for seed in [123, 123, 0, 1, 2, 3]:
        torch.manual_seed(seed)
        out = learner.generate(stub, prompt, 10, 4, temperature=1.0)
        expect_equal(tuple(out.shape), (1, 12), "shape of generate(model, prompt of 2 ids, 10, 4, temperature=1.0)")
        expect_equal(out[:, :2].tolist(), prompt.tolist(), "the prompt at the start of the output")
        draws.append(tuple(out[0].tolist()))
    expect_equal(draws[1], draws[0], "two samples after torch.manual_seed(123)")
    expect(len(set(draws)) >= 3, "samples after seeds 123, 0, 1, 2, 3 (temperature 1.0 samples)",
           "mostly different sequences", f"only {len(set(draws))} distinct, e.g. {list(draws[0][2:])}")


def test_temperature_scales_logits(learner):
    logits = torch.tensor([2.0, 1.0, 0.0, -1.0, -2.0])
    stub, n = FixedLogits(logits), 1000
    for temperature in (0.5, 5.0):
        torch.manual_seed(0)
        out = learner.generate(stub, torch.tensor([[0]]), n, 4, temperature=temperature)
        expect_equal(tuple(out.shape), (1, n + 1), f"shape after {n} new tokens")
        freq = torch.bincount(out[0, 1:], minlength=5).double() / n
        expected = torch.softmax(logits.double() / temperature, dim=-1)
        distance = 0.5 * (freq - expected).abs().sum().item()  # total variation: 0 when equal, 1 at most
        expect(distance < 0.12, f"how often each id is drawn over {n} draws, logits {logits.tolist()}, temperature {temperature}",
               [round(p, 3) for p in expected.tolist()], [round(p, 3) for p in freq.tolist()])


def test_top_k_keeps_k_most_likely(learner):
    stub = FixedLogits([1.5, 3.0, 0.0, 2.6, 2.8, -1.0, 2.5])  # the 3 most likely: ids 1, 4, 3
    torch.manual_seed(0)
    out = learner.generate(stub, torch.tensor([[0]]), 300, 4, temperature=1.0, top_k=3)
    picked = sorted(set(new_ids(out, 1)))
    expect(set(picked) <= {1, 3, 4}, "ids drawn with top_k=3 from logits [1.5, 3.0, 0.0, 2.6, 2.8, -1.0, 2.5]", "only ids among [1, 3, 4]", picked)
    expect_equal(picked, [1, 3, 4], "ids drawn over 300 draws with top_k=3 (each of the 3 is likely)")
    torch.manual_seed(0)
    out = learner.generate(stub, torch.tensor([[0]]), 50, 4, temperature=2.0, top_k=1)
    expect_equal(sorted(set(new_ids(out, 1))), [1], "ids drawn with top_k=1, temperature=2.0")


def test_eos_stops_generation(learner):
    prompt = torch.tensor([[2]])  # the Counter stub continues 3, 4, 5, 6, ...
    for kwargs in [{}, {"temperature": 1.0, "top_k": 1}]:
        out = learner.generate(Counter(), prompt, 10, 4, eos_id=5, **kwargs).tolist()
        expect(out in ([[2, 3, 4]], [[2, 3, 4, 5]]), f"generate(model predicting token + 1, [[2]], 10, 4, eos_id=5{''.join(f', {k}={v}' for k, v in kwargs.items())})",
               "[[2, 3, 4]] (stop when the next id is eos_id)", out)
    out = learner.generate(Counter(), prompt, 10, 4).tolist()
    expect_equal(out, [list(range(2, 13))], "generate(model predicting token + 1, [[2]], 10, 4) with eos_id=None")


def test_crops_to_context_size(learner):
    for fn in ("generate_text_simple", "generate"):
        for prompt_len, n, ctx in [(10, 3, 4), (2, 5, 4)]:
            stub = Counter()
            prompt = torch.arange(prompt_len).view(1, prompt_len)
            out = getattr(learner, fn)(stub, prompt, n, ctx)
            call = f"{fn}(model, ids 0..{prompt_len - 1}, max_new_tokens={n}, context_size={ctx})"
            expect_equal(out.tolist(), [list(range(prompt_len + n))], call)
            expect_equal(len(stub.seen), n, f"{call}: calls to the model")
            for step, seen in enumerate(stub.seen):
                window = out[:, : prompt_len + step][:, -ctx:]
                expect_equal(seen.tolist(), window.tolist(), f"{call}: what the model saw at step {step}")
