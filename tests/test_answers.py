"""Candidate answers: extraction and canonical forms (they decide what counts as one answer)."""

import pytest

from eigscale.answers import canonical, extract_answer, last_boxed


@pytest.mark.parametrize("text,expected", [
    (r"so \boxed{42}.", "42"),
    (r"\boxed{1} then \boxed{\frac{1}{2}}", r"\frac{1}{2}"),
    (r"\boxed{x^{2}+1}", "x^{2}+1"),
    (r"\boxed{unclosed", None),
    ("no box", None),
])
def test_last_boxed(text, expected):
    assert last_boxed(text) == expected


@pytest.mark.parametrize("raw,expected", [
    (" 12.", "12"), ("$1,000$", "1000"), ("4.0", "4"), ("+7", "7"), ("2.50", "2.5"),
    ("The answer is 12", "12"), ("Final answer: -3", "-3"), ("x + 1", "x + 1"),
])
def test_canonical(raw, expected):
    assert canonical(raw) == expected


def test_extract_prefers_boxed_then_first_line():
    assert extract_answer("\n  24 eggs\nmore text") == "24 eggs"
    assert extract_answer(r"I think 5, so \boxed{6}") == "6"
    assert extract_answer("   \n\n") == ""
