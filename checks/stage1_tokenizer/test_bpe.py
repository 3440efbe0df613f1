"""Graded checks for stage 1, the byte-level BPE tokenizer (lessons/stage1_tokenizer.md).

Each check's points, lesson idea and hint live in curriculum.toml. The references are tiktoken
(an independent BPE encoder, fed the learner's own merges) and merges stored in
fixtures/stage1_tokenizer/, written by fixtures/stage1_tokenizer/generate.py.
"""

import json

from learn.checking import as_tiktoken, expect, expect_equal, fixture, short

PKG = "stage1_tokenizer"
EOT = "<|endoftext|>"
CORPUS = fixture(PKG, "corpus.txt").read_text(encoding="utf-8")
HELD_OUT = fixture(PKG, "heldout.txt").read_text(encoding="utf-8")
REFERENCE = json.loads(fixture(PKG, "merges.json").read_text(encoding="utf-8"))

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


def trained(learner, vocab_size, special_tokens=None, text=CORPUS):
    tok = learner.BPETokenizer()
    tok.train(text, vocab_size, special_tokens=special_tokens)
    return tok


def merge_list(tok) -> list[list[int]]:
    """The learner's merges as [[a, b], ...] in the order learned (by new id)."""
    return [list(pair) for pair, _ in sorted(tok.merges.items(), key=lambda item: item[1])]


def test_get_stats_counts_adjacent_pairs(learner):
    got = learner.get_stats([1, 2, 3, 1, 2])
    expect_equal(dict(got), {(1, 2): 2, (2, 3): 1, (3, 1): 1}, "get_stats([1, 2, 3, 1, 2])")
    expect_equal(dict(learner.get_stats([7])), {}, "get_stats([7]) (no pairs)")


def test_merge_replaces_left_to_right(learner):
    expect_equal(learner.merge([1, 2, 3, 1, 2], (1, 2), 4), [4, 3, 4], "merge([1, 2, 3, 1, 2], (1, 2), 4)")
    expect_equal(learner.merge([5, 5, 5], (5, 5), 6), [6, 5], "merge([5, 5, 5], (5, 5), 6)")
    expect_equal(learner.merge([1, 2], (2, 1), 9), [1, 2], "merge([1, 2], (2, 1), 9) (pair absent)")


def test_roundtrip_on_diverse_text(learner):
    tok = trained(learner, 356)
    for text in DIVERSE:
        ids = tok.encode(text)
        expect_equal(tok.decode(ids), text, f"decode(encode({short(text, 40)}))")


def test_decode_replaces_invalid_utf8(learner):
    tok = trained(learner, 300)
    # 0xE2 0x82 starts a 3-byte character that never ends; 0xFF is never valid UTF-8.
    for ids, expected in [([0xE2, 0x82], "\ufffd"), ([104, 0xFF, 105], "h\ufffdi")]:
        try:
            got = tok.decode(ids)
        except UnicodeDecodeError as e:
            expect(False, f"decode({ids}) must not raise", repr(expected), f"UnicodeDecodeError: {e}")
        expect_equal(got, expected, f"decode({ids})")
    # Half a character in one token, the rest in the next: join the bytes before decoding.
    expect_equal(tok.decode([0xC3, 0xA9]), "é", "decode([0xC3, 0xA9]) (the two bytes of 'é')")


def test_exact_vocab_size(learner):
    for vocab_size, specials in [(300, None), (320, [EOT]), (257, None)]:
        tok = trained(learner, vocab_size, specials)
        ids = sorted(tok.vocab)
        expect_equal(len(tok.vocab), vocab_size, f"len(vocab) after train(..., vocab_size={vocab_size}, special_tokens={specials})")
        expect_equal((ids[0], ids[-1]), (0, vocab_size - 1), "smallest and largest token id")
        expect_equal(len(tok.merges), vocab_size - 256 - len(specials or []), "number of merges")


def test_merges_match_reference(learner):
    tok = trained(learner, REFERENCE["vocab_size"], REFERENCE["special_tokens"])
    got, expected = merge_list(tok), REFERENCE["merges"]
    for i, (g, e) in enumerate(zip(got, expected)):
        if g != e:
            vocab = {i: bytes([i]) for i in range(256)}
            for k, (a, b) in enumerate(expected[:i]):
                vocab[256 + k] = vocab[a] + vocab[b]
            show = lambda p: f"{p} = {b''.join(vocab.get(t, b'?') for t in p)!r}"  # noqa: E731
            expect(False, f"merge number {i} (token id {256 + i}) on the reference corpus", show(e), show(g))
    expect_equal(len(got), len(expected), "number of merges learned on the reference corpus")


def test_special_tokens_stay_whole(learner):
    text = CORPUS + (EOT + "end of text") * 20
    tok = trained(learner, 400, [EOT], text=text)
    eot = tok.special_tokens.get(EOT)
    expect_equal(eot, 399, f"the id of {EOT} (special tokens take the last ids)")
    expect_equal(tok.encode(EOT), [eot], f"encode({EOT!r})")
    a, b = "the end", "A new start"
    expect_equal(tok.encode(a + EOT + b), tok.encode(a) + [eot] + tok.encode(b), f"encode({a + EOT + b!r})")
    for pair, idx in tok.merges.items():
        piece = tok.vocab[idx]
        if b"<|" in piece or b"|>" in piece:
            expect(False, "no merged token may hold part of a special token", "no such token", f"token {idx} = {piece!r}")


def test_encoding_matches_tiktoken(learner):
    tok = trained(learner, 400, [EOT])
    oracle = as_tiktoken(tok)
    for text in [HELD_OUT, CORPUS[:2000], *DIVERSE, f"one{EOT}two"]:
        expected = oracle.encode(text, allowed_special="all")
        got = tok.encode(text)
        if got != expected:
            first = next((i for i, (g, e) in enumerate(zip(got, expected)) if g != e), min(len(got), len(expected)))
            expect(False, f"encode({short(text, 40)}) vs tiktoken with your merges, from token {first} on",
                   expected[first : first + 8], got[first : first + 8])  # fmt: skip


def test_save_load_roundtrip(learner, tmp_path):
    tok = trained(learner, 380, [EOT])
    path = tmp_path / "tokenizer.json"
    tok.save(path)
    loaded = learner.BPETokenizer.load(path)
    for text in [HELD_OUT, f"a{EOT}b", *DIVERSE[4:9]]:
        expect_equal(loaded.encode(text), tok.encode(text), f"loaded.encode({short(text, 40)})")
    expect_equal(loaded.decode(tok.encode(HELD_OUT)), HELD_OUT, "loaded.decode of the held-out text")
    expect_equal(dict(loaded.special_tokens), dict(tok.special_tokens), "special tokens after load")


def test_compresses_held_out_text(learner):
    tok = trained(learner, 512)
    n_bytes, n_tokens = len(HELD_OUT.encode("utf-8")), len(tok.encode(HELD_OUT))
    ratio = n_bytes / max(n_tokens, 1)
    # The reference reaches 2.4 bytes per token here; no merges at all gives 1.0.
    expect(ratio >= 2.0, "bytes per token on held-out text after 256 merges", ">= 2.0", f"{ratio:.2f} ({n_bytes} bytes, {n_tokens} tokens)")
