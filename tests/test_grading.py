"""Answer extraction and grading on hand-written responses and public graders' cases (no
model)."""

import pytest

from eigscale.grading import (
    Response,
    answer_section,
    choice_answer,
    choice_letter,
    extract,
    final_number,
    integer_answer,
    math_answer,
    math_equal,
)
from eigscale.lmeval.tasks.utils import process_choice, process_integer, process_math

from .grading_cases import HELD_OUT, REGRESSION

PLAIN_END = "\n\nTherefore,"


@pytest.mark.parametrize("response,end,expected", [
    # s1: boxed after thinking that itself holds a boxed guess
    ("maybe \\boxed{3}... no.<|im_start|>answer\nFinal Answer: \\boxed{4}", "<|im_start|>answer",
     "4"),
    ("hmm 7?\n</think>\nSo \\boxed{\\frac{1}{\\sqrt{2}}}.", "</think>", "\\frac{1}{\\sqrt{2}}"),
    # the forced answer line opens the section: later rambling does not replace it
    ("hmm 7?\n</think>\nThe final answer is 12.\nThe answer is 13.", "</think>", "12"),
    # plain format written by eigscale
    ("step one" + PLAIN_END + "\nthe final answer is 2 + 5 = 7.\nSo 8", PLAIN_END, "2 + 5 = 7"),
    ("42", None, "42"),
    ("I am not sure what the question means, let me talk about the weather instead today.",
     None, None),
    ("", None, None),
    ("\\boxed{", None, None),
])
def test_extract(response, end, expected):
    assert extract(response, end) == expected


# -- the cases the issue found, each failing on the old grader --------------------------
def test_the_answer_section_is_after_the_runs_own_first_thinking_end():
    # plain format: "Therefore," written after the answer is not a new answer section
    forced = Response("I add them." + PLAIN_END + "\nthe final answer is \\boxed{5}.\n\n"
                      "Therefore, this is verified.", PLAIN_END)
    assert math_answer(forced) == "5"
    assert process_math({"answer": "5"}, [forced]) == {"exact_match": 1, "unparsed": 0}
    # the baseline (no thinking section): the whole response, the last box preferred
    baseline = Response("I compute 2+3. \\boxed{5}\n\nTherefore, done.")
    assert process_math({"answer": "5"}, [baseline])["exact_match"] == 1
    # an r1 trace that writes another format's marker in its thinking
    r1 = Response("So x=3.\n\nTherefore, maybe 3. Wait, no.</think>\nFinal Answer: 4", "</think>")
    assert answer_section(r1) == "\nFinal Answer: 4"
    assert process_math({"answer": "4"}, [r1])["exact_match"] == 1


@pytest.mark.parametrize("answer", [
    "\\boxed{\\text{C}}", "\\boxed{\\textbf{(C)}}", "**C**", "Option C", "The answer is: (C)",
    "A careful check gives (C)", "I believe it is C", "Final Answer: $\\boxed{\\mathrm{C}}$",
])
def test_choice_letters_reasoning_models_write(answer):
    assert choice_answer(Response("thinking</think>\n" + answer, "</think>")) == "C"
    assert process_choice({"answer": "C", "choices": list("wxyz")}, [answer]) == {
        "exact_match": 1, "unparsed": 0}


def test_letters_outside_the_choices_are_not_answers():
    assert choice_answer("I think E is best") is None
    assert choice_answer("I think E is best", "ABCDE") == "E"
    assert process_choice({"answer": "B", "choices": list("wxyz")}, ["I am unsure."]) == {
        "exact_match": 0, "unparsed": 1}


@pytest.mark.parametrize("line,gold", [
    ("8, since 2^3 = 8", "8"), ("x = 8 because 2^3 is 8", "8"), ("$x=\\frac{1}{2}$", "0.5"),
])
def test_maths_answer_lines_with_words_around_the_answer(line, gold):
    assert process_math({"answer": gold}, [Response("t</think>\nFinal Answer: " + line,
                                                    "</think>")])["exact_match"] == 1


@pytest.mark.parametrize("text,expected", [
    ("24 eggs", "24"), ("4 * 6 = 24 eggs.", "24"), ("8 = 6 + 2", "8"), ("-3", "-3"),
    ("1,200 pages", "1200"), ("8, since 2^3 = 8", "8"), ("none", None), (None, None),
])
def test_final_number(text, expected):
    assert final_number(text) == expected


def test_integer_tasks_count_unparsed_answers_without_a_number():
    assert process_integer({"answer": "7"}, [Response(
        "t" + PLAIN_END + "\nthe final answer is 7 apples", PLAIN_END)]) == {
        "exact_match": 1, "unparsed": 0}
    assert process_integer({"answer": "Some work #### 1,234"}, ["\\boxed{1234}"])["exact_match"]
    assert process_integer({"answer": "8"}, [Response(
        "t" + PLAIN_END + "\nthe final answer is 8 = 6 + 2.", PLAIN_END)])["exact_match"] == 1
    assert process_integer({"answer": "8"}, [Response(
        "4 + 4" + PLAIN_END + "\nthe final answer is unclear", PLAIN_END)]) == {
        "exact_match": 0, "unparsed": 1}


def test_unparsed_is_the_same_rule_for_every_scaler():
    # the baseline and a forced answer with nothing gradable for a maths task
    assert process_math({"answer": "\\frac{1}{2}"}, ["x" * 200]) == {"exact_match": 0,
                                                                     "unparsed": 1}
    assert process_math({"answer": "\\frac{1}{2}"}, [Response("t</think>\n" + "x" * 200,
                                                              "</think>")])["unparsed"] == 1


@pytest.mark.parametrize("a,gold,equal", [
    ("\\frac{1}{2}", "0.5", True), ("1/2", "\\frac12", True),
    ("\\frac{2}{4}", "\\frac{1}{2}", True),
    ("1,000", "1000", True), ("x^2+2x+1", "(x+1)^2", True), ("\\sqrt{8}", "2\\sqrt{2}", True),
    ("3", "4", False), (None, "4", False), ("\\frac{1}{", "1", False),
])
def test_math_equal(a, gold, equal):
    assert math_equal(a, gold) is equal


@pytest.mark.parametrize("text,letter", [
    ("B", "B"), ("(C)", "C"), ("D. because", "D"), ("A) 42", "A"), ("Because", None),
    (None, None),
])
def test_choice_letter(text, letter):
    assert choice_letter(text) == letter


def grade(kind: str, gold: str, response: str) -> bool:
    if kind == "math":
        return math_equal(math_answer(response), gold)
    if kind == "integer":
        return math_equal(integer_answer(response), gold)
    return choice_answer(response) == gold


@pytest.mark.parametrize("source,kind,gold,response,correct", REGRESSION)
def test_regression_set_of_established_graders(source, kind, gold, response, correct):
    assert grade(kind, gold, response) is correct


def test_held_out_agreement():
    agree = [grade(k, g, r) is c for _, k, g, r, c in HELD_OUT]
    missed = [case for case, ok in zip(HELD_OUT, agree, strict=True) if not ok]
    print(f"held-out agreement: {sum(agree)}/{len(agree)}; disagreements: {missed}")
    assert sum(agree) / len(agree) >= 0.9, missed
