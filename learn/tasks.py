"""Instructions whose answers can be checked without a judge model: `learn finetune instruct`'s
objective evaluation.

    from learn.tasks import make_tasks, exact_match
    train = make_tasks(1000, "train")     # mixed into the instruction data the model learns from
    test = make_tasks(200, "test")        # asked before and after tuning; scored by exact_match

Every task is an entry of the book's instruction data, {"instruction", "input", "output"}, plus
its "kind". Eight kinds, from ones that a small model learns quickly (copy a word, pick the first
or the last word, even or odd) to ones that need more than the shape of the answer (small sums,
the longer of two words, letter counts, a word backwards: a BPE model sees tokens, not letters).
The "train" and "test" tasks never share a word or a pair of numbers: the test measures what the
model learned to do, not what it saw. Made from a seed, the same on every machine.
"""

from __future__ import annotations

import random

#: Common English words of 3 to 8 letters. Even places train, odd places test.
WORDS = """
apple river stone green water music house light table chair bread cloud dream earth field
glass heart horse lemon money night ocean paper plant queen radio smile sugar tiger voice
watch zebra bird cat dog fish moon star tree rain snow wind fire king road ship book door
hand milk rose salt bell coin frog lamp nest pear ring sock tent wolf yard garden window
silver winter summer doctor friend mother father sister planet rocket castle dragon forest
island jacket kitten ladder market orange pencil rabbit spider ticket turtle violin wallet
basket bottle button candle carpet cherry circle dinner engine finger flower guitar hammer
animal balloon blanket chicken dolphin kitchen monster morning penguin picture rainbow teacher
bicycle diamond elephant mountain notebook sandwich umbrella airplane
""".split()

KINDS = ("backwards", "count", "sum", "longer", "repeat", "first", "last", "even_odd")


def _pools(split: str) -> tuple[list[str], list[tuple[int, int]], list[int]]:
    """(words, pairs of numbers for sums, numbers for even/odd) of one split: disjoint between splits."""
    side = 0 if split == "train" else 1
    pairs = [(a, b) for a in range(10) for b in range(10)]
    random.Random(0).shuffle(pairs)
    numbers = list(range(10, 100))
    random.Random(1).shuffle(numbers)
    cut, cut_n = len(pairs) * 7 // 10, len(numbers) * 7 // 10
    return WORDS[side::2], pairs[:cut] if side == 0 else pairs[cut:], numbers[:cut_n] if side == 0 else numbers[cut_n:]


def make_task(kind: str, rng: random.Random, words: list[str], pairs: list, numbers: list[int]) -> dict:
    """One task of `kind`, drawn with rng from the split's pools."""
    w = rng.choice(words)
    if kind == "backwards":
        return {"instruction": f'Spell the word "{w}" backwards.', "input": "", "output": w[::-1]}
    if kind == "count":
        return {"instruction": f'How many letters are in the word "{w}"?', "input": "", "output": str(len(w))}
    if kind == "sum":
        a, b = rng.choice(pairs)
        return {"instruction": f"What is {a} plus {b}?", "input": "", "output": str(a + b)}
    if kind == "longer":
        v = rng.choice([x for x in words if len(x) != len(w)])
        return {"instruction": "Which of these two words is longer?", "input": f"{w}, {v}", "output": max(w, v, key=len)}
    if kind == "repeat":
        return {"instruction": f'Repeat the word "{w}" three times.', "input": "", "output": " ".join([w] * 3)}
    if kind in ("first", "last"):
        sentence = rng.sample(words, rng.randint(3, 5))
        answer = sentence[0] if kind == "first" else sentence[-1]
        return {"instruction": f"What is the {kind} word of this list?", "input": " ".join(sentence), "output": answer}
    if kind == "even_odd":
        n = rng.choice(numbers)
        return {"instruction": f"Is {n} an even or an odd number?", "input": "", "output": "even" if n % 2 == 0 else "odd"}
    raise ValueError(f"unknown kind of task {kind!r}")


def make_tasks(n: int, split: str, seed: int = 123) -> list[dict]:
    """n tasks of the split ("train" or "test"), the kinds in turn, each with its "kind"."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    rng = random.Random(f"{seed}-{split}")
    words, pairs, numbers = _pools(split)
    return [{**make_task(KINDS[i % len(KINDS)], rng, words, pairs, numbers), "kind": KINDS[i % len(KINDS)]} for i in range(n)]


def normalize(text: str) -> str:
    """What exact match compares: no surrounding blanks or final period, lower case.
    "  Seven. " -> "seven"."""
    return text.strip().rstrip(".").strip().lower()


def exact_match(response: str, answer: str) -> bool:
    return normalize(response) == normalize(answer)
