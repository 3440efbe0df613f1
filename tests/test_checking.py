"""learn/shared/checking.py: what a failed check's message shows."""

from __future__ import annotations

import pytest

from learn.shared.checking import TensorData, expect, expect_close_data, expect_equal, expect_near, expect_near_list


def message(call, *args) -> str:
    with pytest.raises(AssertionError) as failed:
        call(*args)
    return str(failed.value)


def test_values_are_shown_once_quoted():
    text = message(expect_equal, "h\ufffdi?", "h\ufffdi", "decode([104, 255, 105])")
    assert "expected: 'h\ufffdi'\n" in text and "got:      'h\ufffdi?'" in text
    assert "expected: [1, 2]" in message(expect_equal, [1], [1, 2], "ids")


def test_a_description_or_an_already_formatted_value_is_shown_as_it_is():
    text = message(expect, False, "decode([0xE2, 0x82]) must not raise", repr("\ufffd"), "UnicodeDecodeError: ...")
    assert "expected: '\ufffd'\n" in text  # not "'\ufffd'" with a second pair of quotes
    assert "got:      UnicodeDecodeError: ..." in text
    assert "expected: a tensor of shape (2, 3)" in message(expect, False, "x", "a tensor of shape (2, 3)", None)
    assert "got:      None" in message(expect, False, "x", "a tensor", None)


def test_a_long_value_is_cut():
    text = message(expect_equal, list(range(1000)), [], "ids")
    assert "chars)" in text and len(text) < 500


def test_close_data_names_the_worst_element_and_a_wrong_shape():
    got = TensorData("float32", (2, 2), [[1.0, 2.0], [3.5, float("nan")]])
    expect_close_data(TensorData("float32", (2,), [1.0, 2.0000001]), [1.0, 2.0], (2,), "bias")
    text = message(expect_close_data, got, [[1.0, 2.0], [3.0, 4.0]], (2, 2), "table")
    assert "at index (1, 1)" in text and "expected: 4\n" in text and "got:      nan" in text
    text = message(expect_close_data, TensorData("float32", (2,), [1.0, 2.0]), [[1.0, 2.0]], (1, 2), "table")
    assert "table: shape" in text and "expected: (1, 2)" in text


def test_near_takes_numbers_only_and_lists_of_the_expected_length():
    expect_near(2, 2.0, "loss")
    expect_near_list([1.0, 2.0000001], [1.0, 2.0], "losses")
    for got in (float("nan"), 10**400, True, "2.0", None):
        assert "expected: 2\n" in message(expect_near, got, 2.0, "loss")
    assert "expected: 2 answers" in message(expect_near_list, [1.0], [1.0, 2.0], "losses")
    assert "losses[1]" in message(expect_near_list, [1.0, 3.0], [1.0, 2.0], "losses")
