"""Graded checks for stage 1, the byte-level BPE tokenizer (lessons/stage1_tokenizer.md).

Each check's points, lesson idea and hint live in curriculum.toml. Probes (`probe_*`) run in the
worker on the learner's code and send back plain data; the checks (`test_*`) run in the judge and
compute every expected value themselves:
  * `oracle_train` below, an independent statement of the training rule, on texts drawn at
    grading time from the run's seed, besides the merges stored in fixtures/stage1_tokenizer/
    (written by fixtures/stage1_tokenizer/generate.py from the reference);
  * tiktoken, an independent BPE encoder, fed the merges the judge learns itself;
  * the learner's vocabulary rebuilt here from its merges, to decode ids without its decode.
"""

from __future__ import annotations

import json
from collections import Counter
from functools import cache

import regex

from learn.shared.checking import answers, as_tiktoken, expect, expect_equal, expect_type, fixture, rng, run, short

PKG = "stage1_tokenizer"
EOT = "<|endoftext|>"
GPT2_SPLIT = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""

# Text a tokenizer must give back exactly: every kind of character and space learners trip on.
DIVERSE = [
    "",
    " ",
    "hello world",
    "   leading and trailing spaces   ",
    "tabs\tand\nnewlines\n\n\r\n",
    "Punctuation!!! ...and (brackets) [x] {y}; 'quotes' \"double\"",
    "accents: café, naïve, Größe, mañana",
    "CJK: 日本語の文章、中文也一样",
    "emoji: 🙂🚀👍🏽 ❤️",
    "digits 1234567890 and 3.14159",
    "mixed: tokenization of 'the' model's tokens",
    "a" * 50,
]


@cache
def corpus() -> str:
    return fixture(PKG, "corpus.txt").read_text(encoding="utf-8")


@cache
def held_out() -> str:
    return fixture(PKG, "heldout.txt").read_text(encoding="utf-8")


def drawn_corpus(lines: int = 40) -> str:
    """A training text of this run: corpus lines in a drawn order, some repeated."""
    r = rng()
    pool = [line for line in corpus().splitlines() if line.strip()]
    return "\n".join(r.choice(pool) for _ in range(lines))


def drawn_text(n: int = 60) -> str:
    """A short text of this run, from the characters of DIVERSE (all the awkward ones)."""
    chars = sorted(set("".join(DIVERSE)))
    r = rng()
    return "".join(r.choice(chars) for _ in range(n))


# ------------------------------------------------------------------------------------ oracles


def oracle_stats(ids):
    return dict(Counter(zip(ids, ids[1:])))


def oracle_merge(ids, pair, idx):
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == tuple(pair):
            out.append(idx)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def oracle_train(text: str, vocab_size: int, special_tokens=()) -> list[list[int]]:
    """The merges, in order: most frequent pair, ties to the smallest pair, never across chunks
    nor across special tokens. A plain recount per merge: slow, and obviously right."""
    parts = regex.split("(" + "|".join(regex.escape(s) for s in special_tokens) + ")", text) if special_tokens else [text]
    chunks = Counter(c for p in parts if p not in special_tokens for c in regex.findall(GPT2_SPLIT, p))
    words = {tuple(c.encode("utf-8")): n for c, n in chunks.items()}
    merges = []
    for k in range(vocab_size - 256 - len(special_tokens)):
        stats = Counter()
        for ids, n in words.items():
            for pair in zip(ids, ids[1:]):
                stats[pair] += n
        top = max(stats.values())
        pair = min(p for p, c in stats.items() if c == top)
        merges.append(list(pair))
        words = {tuple(oracle_merge(list(ids), pair, 256 + k)): n for ids, n in words.items()}
    return merges


MAX_PIECE = 4096  # bytes of one learned token: a claimed merge of a token with itself doubles it


def vocab_of(merges) -> dict[int, bytes]:
    """{id: bytes} that the learner's merges make; a merge that is not a pair of known ids, or a
    token over MAX_PIECE bytes, stands as b"?" (which no text decodes to): claims cost us nothing."""
    vocab = {i: bytes([i]) for i in range(256)}
    for k, pair in enumerate(merges if type(merges) is list else []):
        ok = type(pair) in (list, tuple) and len(pair) == 2 and all(type(t) is int for t in pair)
        piece = vocab.get(pair[0], b"?") + vocab.get(pair[1], b"?") if ok else b"?"
        vocab[256 + k] = piece if len(piece) <= MAX_PIECE else b"?"
    return vocab


# ------------------------------------------------------------------------------------- probes


def _tokenizer(learner, text, vocab_size, special_tokens):
    tok = learner.BPETokenizer()
    tok.train(text, vocab_size, special_tokens=special_tokens)
    return tok


def _state(tok) -> dict:
    """What the judge needs of a trained tokenizer: its merges in the order learned, and more."""
    merges = getattr(tok, "merges", None)
    expect(isinstance(merges, dict), "tokenizer.merges after train()", "a dict {(a, b): new_id}", type(merges).__name__)
    ordered = sorted(merges.items(), key=lambda item: item[1])
    return {
        "merges": [[int(a), int(b)] for (a, b), _ in ordered],
        "merge_ids": [int(idx) for _, idx in ordered],
        "special_tokens": {str(k): int(v) for k, v in dict(getattr(tok, "special_tokens", {})).items()},
        "vocab_ids": sorted(int(i) for i in getattr(tok, "vocab", {})),
        "pattern": str(getattr(tok, "pattern", "")),
    }


def probe_get_stats(learner, cases):
    out = []
    for ids in cases:
        stats = learner.get_stats(list(ids))
        expect(isinstance(stats, dict), f"get_stats({short(ids, 40)}) returns", "a dict {(a, b): count}", type(stats).__name__)
        out.append([[list(pair), n] for pair, n in stats.items()])
    return out


def probe_merge(learner, cases):
    return [learner.merge(list(ids), tuple(pair), idx) for ids, pair, idx in cases]


def probe_train_encode(learner, text, vocab_size, special_tokens, texts, allowed=None):
    """allowed: encode(t, allowed_special=set(allowed)), as learn pretrain and prepare call it."""
    tok = _tokenizer(learner, text, vocab_size, special_tokens)
    encoded = [tok.encode(t) if allowed is None else tok.encode(t, allowed_special=set(allowed)) for t in texts]
    return {**_state(tok), "encoded": encoded, "decoded": [tok.decode(ids) for ids in encoded]}


def probe_too_few_pairs(learner, text, vocab_size):
    """train on a text with fewer pairs than the merges asked for: what it raised, as learn pretrain reads it."""
    try:
        learner.BPETokenizer().train(text, vocab_size)
    except Exception as e:  # the judge says which kind it wanted
        return {"raised": type(e).__name__, "value_error": isinstance(e, ValueError)}
    return {"raised": None, "value_error": False}


def probe_decode(learner, cases):
    """decode on a tokenizer that was never trained: the 256 byte tokens are all it needs."""
    tok = learner.BPETokenizer()
    out = []
    for ids in cases:
        try:
            out.append(tok.decode(list(ids)))
        except UnicodeDecodeError as e:
            out.append({"raised": f"UnicodeDecodeError: {e}"})
    return out


def probe_save_load(learner, text, vocab_size, special_tokens, texts):
    tok = _tokenizer(learner, text, vocab_size, special_tokens)
    tok.save("tokenizer.json")  # the worker's own folder
    loaded = learner.BPETokenizer.load("tokenizer.json")
    return {
        **_state(tok),
        "loaded": [loaded.encode(t) for t in texts],
        "loaded_special_tokens": {str(k): int(v) for k, v in dict(loaded.special_tokens).items()},
        "decoded": loaded.decode(tok.encode(texts[0])),
        "loaded_vocab_size": len(loaded.vocab),  # learn pretrain sizes a resumed run's model by it
    }


# ------------------------------------------------------------------------------------- checks


def test_get_stats_counts_adjacent_pairs():
    r = rng()
    cases = [[1, 2, 3, 1, 2], [7], [], [5, 5, 5, 5]] + [[r.randrange(6) for _ in range(r.randrange(2, 30))] for _ in range(5)]
    got = answers(run(probe_get_stats, cases=cases), len(cases), "get_stats results")
    for ids, items in zip(cases, got):
        as_dict = {tuple(p): n for p, n in items}
        expect_equal(as_dict, oracle_stats(ids), f"get_stats({short(ids, 60)})")


def test_merge_replaces_left_to_right():
    r = rng()
    cases = [([1, 2, 3, 1, 2], (1, 2), 4), ([5, 5, 5], (5, 5), 6), ([1, 2], (2, 1), 9)]
    for _ in range(6):
        ids = [r.randrange(4) for _ in range(r.randrange(3, 25))]
        cases.append((ids, (ids[0], ids[1]), 256 + r.randrange(100)))
    got = answers(run(probe_merge, cases=cases), len(cases), "merge results")
    for (ids, pair, idx), out in zip(cases, got):
        expect_equal(out, oracle_merge(ids, pair, idx), f"merge({short(ids, 60)}, {pair}, {idx})")


def test_roundtrip_on_diverse_text():
    texts = DIVERSE + [drawn_text()]
    got = run(probe_train_encode, text=corpus(), vocab_size=356, special_tokens=None, texts=texts)
    vocab = vocab_of(got["merges"])
    encoded, decoded_texts = (answers(got[k], len(texts), f"{k} texts") for k in ("encoded", "decoded"))
    for text, ids, decoded in zip(texts, encoded, decoded_texts):
        expect_equal(decoded, text, f"decode(encode({short(text, 40)}))")
        ours = b"".join(vocab.get(i, b"?") for i in ids).decode("utf-8", errors="replace")
        expect(ours == text, f"encode({short(text, 40)}): its ids, decoded here with your merges",
               short(text), f"{short(ours)} (ids {short(ids, 60)})")  # fmt: skip


def test_decode_replaces_invalid_utf8():
    # 0xE2 0x82 starts a 3-byte character that never ends; 0xFF is never valid UTF-8; the last
    # case is half of 'é' in one token and the rest in the next: join the bytes before decoding.
    cases = [([0xE2, 0x82], "\ufffd"), ([104, 0xFF, 105], "h\ufffdi"), ([0xC3, 0xA9], "é"), ([104, 105], "hi")]
    got = answers(run(probe_decode, cases=[ids for ids, _ in cases]), len(cases), "decode results")
    for (ids, expected), out in zip(cases, got):
        expect(type(out) is str, f"decode({ids}) on a fresh BPETokenizer() must not raise", short(expected), short(out))
        expect_equal(out, expected, f"decode({ids})")


def test_exact_vocab_size():
    r = rng()
    for vocab_size, specials in [(257, None), (r.randrange(280, 330), None), (r.randrange(300, 340), [EOT])]:
        got = run(probe_train_encode, text=corpus(), vocab_size=vocab_size, special_tokens=specials, texts=[])
        ids, n_merges = got["vocab_ids"], vocab_size - 256 - len(specials or [])
        call = f"train(..., vocab_size={vocab_size}, special_tokens={specials})"
        expect_equal(len(ids), vocab_size, f"len(vocab) after {call}")
        expect_equal((ids[0], ids[-1]) if ids else None, (0, vocab_size - 1), f"smallest and largest token id after {call}")
        expect_equal(len(got["merges"]), n_merges, f"number of merges after {call}")
        expect_equal(got["merge_ids"], list(range(256, 256 + n_merges)), f"merge ids after {call} (256, 257, ... in order)")
    # learn pretrain says "too small" on a ValueError: a word of n letters holds at most n - 1 merges.
    word = "".join(r.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(r.randint(3, 8)))
    vocab_size = 256 + len(word) + r.randint(0, 40)
    got = expect_type(run(probe_too_few_pairs, text=word, vocab_size=vocab_size), dict, "what train raised")
    what = f"train({word!r}, vocab_size={vocab_size}): {vocab_size - 256} merges from {len(word)} bytes"
    raised = short(got.get("raised") or "nothing raised", 60)
    expect(got.get("value_error") is True, what, "ValueError (the text runs out of pairs)", raised)


def _first_difference(got, expected, what):
    for i, (g, e) in enumerate(zip(got, expected)):
        if g != e:
            vocab = vocab_of(expected)
            show = lambda p: f"{p} = {b''.join(vocab.get(t, b'?') for t in p)!r}"  # noqa: E731
            expect(False, f"merge number {i} (token id {256 + i}) {what}", show(e), show(g))
    expect_equal(len(got), len(expected), f"number of merges learned {what}")


def test_merges_match_reference():
    stored = json.loads(fixture(PKG, "merges.json").read_text(encoding="utf-8"))
    got = run(probe_train_encode, text=corpus(), vocab_size=stored["vocab_size"], special_tokens=stored["special_tokens"], texts=[])
    _first_difference(got["merges"], stored["merges"], "on the reference corpus")
    text = drawn_corpus() + EOT + drawn_corpus(10)
    got = run(probe_train_encode, text=text, vocab_size=340, special_tokens=[EOT], texts=[])
    _first_difference(got["merges"], oracle_train(text, 340, (EOT,)), "on a text drawn for this run")


def test_special_tokens_stay_whole():
    text = drawn_corpus() + (EOT + "end of text") * 20
    a, b = "the end", "A new start"
    got = run(probe_train_encode, text=text, vocab_size=400, special_tokens=[EOT], texts=[EOT, a + EOT + b, a, b],
              allowed=[EOT])  # fmt: skip
    expect_type(got["special_tokens"], dict, "BPETokenizer.special_tokens")
    eot = got["special_tokens"].get(EOT)
    expect_equal(eot, 399, f"the id of {EOT} (special tokens take the last ids)")
    whole, joined, ea, eb = answers(got["encoded"], 4, "encode results")
    expect_equal(whole, [eot], f"encode({EOT!r})")
    expect_equal(joined, ea + [eot] + eb, f"encode({a + EOT + b!r})")
    vocab = vocab_of(got["merges"])
    for idx in range(256, 256 + len(got["merges"])):
        piece = vocab[idx]
        if b"<|" in piece or b"|>" in piece:
            expect(False, "no merged token may hold part of a special token", "no such token", f"token {idx} = {piece!r}")


def _ambiguous_words(merges, n: int) -> str:
    """Words made of learned tokens glued together: where merges overlap, only merging in rank
    order gives tiktoken's answer (small texts rarely make the orders differ; these do)."""
    vocab = vocab_of(merges)
    letters = [vocab[i].decode() for i in range(256, 256 + len(merges)) if vocab[i].isalpha() and vocab[i].isascii()]
    r = rng()
    if not letters:
        return ""
    return " ".join("".join(r.choice(letters) for _ in range(r.randrange(2, 5))) for _ in range(n))


def test_encoding_matches_tiktoken():
    corpus_text = drawn_corpus(60)
    merges = oracle_train(corpus_text, 420, (EOT,))  # the judge's own: the oracle never rests on the learner's claims
    texts = [held_out(), corpus()[:2000], *DIVERSE, f"one{EOT}two", _ambiguous_words(merges, 400)]
    got = run(probe_train_encode, text=corpus_text, vocab_size=420, special_tokens=[EOT], texts=texts)
    oracle = as_tiktoken(GPT2_SPLIT, merges, {EOT: 419})
    for text, ids in zip(texts, answers(got["encoded"], len(texts), "encode results")):
        expected = oracle.encode(text, allowed_special="all")
        if ids != expected:
            first = next((i for i, (g, e) in enumerate(zip(ids, expected)) if g != e), min(len(ids), len(expected)))
            expect(False, f"encode({short(text, 40)}) vs tiktoken with the merges BPE learns from this text, from token {first} on",
                   short(expected[first : first + 8]), short(ids[first : first + 8]))  # fmt: skip


def test_save_load_roundtrip():
    texts = [held_out(), f"a{EOT}b", drawn_text(), *DIVERSE[4:9]]
    corpus_text = drawn_corpus()
    got = run(probe_save_load, text=corpus_text, vocab_size=380, special_tokens=[EOT], texts=texts)
    oracle = as_tiktoken(GPT2_SPLIT, oracle_train(corpus_text, 380, (EOT,)), {EOT: 379})  # the judge's own merges
    for text, ids in zip(texts, answers(got["loaded"], len(texts), "loaded.encode results")):
        expect_equal(ids, oracle.encode(text, allowed_special="all"), f"loaded.encode({short(text, 40)}) (the tokenizer you saved)")
    expect_equal(got["decoded"], texts[0], "loaded.decode of the held-out text")
    expect_equal(got["loaded_special_tokens"], got["special_tokens"], "special tokens after load")
    expect_equal(got.get("loaded_vocab_size"), 380, "len(loaded.vocab) (every id, special tokens too: it sizes a model)")


def test_compresses_held_out_text():
    text = held_out()
    # 170 KB, as learn pretrain trains on megabytes: count each distinct chunk once (§3), or this times out.
    got = run(probe_train_encode, text=drawn_corpus(2000), vocab_size=512, special_tokens=None, texts=[text])
    ids, vocab = got["encoded"][0], vocab_of(got["merges"])
    ours = b"".join(vocab.get(i, b"?") for i in ids).decode("utf-8", errors="replace")
    expect(ours == text, "encode(held-out text): its ids, decoded here with your merges", "the held-out text", short(ours, 80))
    n_bytes = len(text.encode("utf-8"))
    ratio = n_bytes / len(ids)
    # The reference reaches about 2.4 bytes per token here; no merges at all gives 1.0.
    expect(ratio >= 2.0, "bytes per token on held-out text after 256 merges", ">= 2.0", f"{ratio:.2f} ({n_bytes} bytes, {len(ids)} tokens)")
