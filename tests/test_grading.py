"""Answer extraction and grading on hand-written responses (no model)."""

import pytest

from eigscale.grading import (
    answer_section,
    choice_letter,
    extract,
    final_number,
    math_equal,
)
from eigscale.tasks.utils import process_choice, process_integer, process_math

S1 = "<|im_start|>think"


@pytest.mark.parametrize("response,expected", [
    # boxed, after s1 thinking that itself contains a boxed guess
    (f"{S1} maybe \\boxed{{3}}... no.<|im_start|>answer\nFinal Answer: \\boxed{{4}}", "4"),
    # nested braces
    ("</think>\nSo \\boxed{\\frac{1}{\\sqrt{2}}}.", "\\frac{1}{\\sqrt{2}}"),
    # R1 style, answer phrase, first line after it
    ("<think>\nhmm 7?\n</think>\nThe final answer is 12.\nThe answer is 13.", "12"),
    # plain format written by eigscale
    ("step one\n\nTherefore,\nthe final answer is 2 + 5 = 7.\nSo 8", "2 + 5 = 7"),
    # no marker: whole response is the answer section; short first line
    ("42", "42"),
    # garbage: long rambling with no answer at all
    ("I am not sure what the question means, let me talk about the weather instead today.",
     None),
    ("", None),
    ("\\boxed{", None),
])
def test_extract(response, expected):
    assert extract(response) == expected


def test_answer_section_takes_text_after_the_last_marker():
    assert answer_section("a</think>b</think>c") == "c"
    assert answer_section("no markers") == "no markers"


@pytest.mark.parametrize("a,gold,equal", [
    ("\\frac{1}{2}", "0.5", True),
    ("1/2", "\\frac12", True),
    ("\\frac{2}{4}", "\\frac{1}{2}", True),
    ("1,000", "1000", True),
    ("x^2+2x+1", "(x+1)^2", True),
    ("\\sqrt{8}", "2\\sqrt{2}", True),
    ("3", "4", False),
    (None, "4", False),
    ("\\frac{1}{", "1", False),
])
def test_math_equal(a, gold, equal):
    assert math_equal(a, gold) is equal


@pytest.mark.parametrize("text,expected", [
    ("24 eggs", "24"), ("4 * 6 = 24 eggs.", "24"), ("-3", "-3"), ("1,200 pages", "1200"),
    ("none", None), (None, None),
])
def test_final_number(text, expected):
    assert final_number(text) == expected


@pytest.mark.parametrize("text,letter", [
    ("B", "B"), ("(C)", "C"), ("d. because", "D"), ("A) 42", "A"), ("Because", None),
    (None, None),
])
def test_choice_letter(text, letter):
    assert choice_letter(text) == letter


def test_task_scoring_counts_unparsed():
    assert process_integer({"answer": "7"}, ["Therefore,\nthe final answer is 7 apples"]) == {
        "exact_match": 1, "unparsed": 0}
    assert process_integer({"answer": "Some work #### 1,234"}, ["\\boxed{1234}"])["exact_match"]
    garbage = process_math({"answer": "\\frac{1}{2}"}, ["x" * 200])
    assert garbage == {"exact_match": 0, "unparsed": 1}
    assert process_math({"answer": "\\frac{1}{2}"}, ["</think> \\boxed{0.5}"])["exact_match"]
    assert process_choice({"answer": "C"}, ["</think>\n\\boxed{C}"])["exact_match"] == 1
    assert process_choice({"answer": "C"}, ["</think>\nI think (B)"])["exact_match"] == 0
