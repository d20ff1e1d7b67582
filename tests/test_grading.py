"""Answer extraction and grading on hand-written responses and public graders' cases (no
model)."""

import pytest

from eigscale.grading import (
    Response,
    answer_class,
    answer_section,
    choice_answer,
    choice_letter,
    extract,
    final_number,
    integer_answer,
    math_answer,
    math_equal,
    same_class,
)
from eigscale.lmeval.tasks.utils import process_choice, process_integer, process_math

from .grading_cases import HELD_OUT, REGRESSION
from .helpers import verdict

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
    assert verdict(process_math({"answer": "5"}, [forced])) == {"exact_match": 1, "unparsed": 0}
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
    assert verdict(process_choice({"answer": "C", "choices": list("wxyz")}, [answer])) == {
        "exact_match": 1, "unparsed": 0}


def test_letters_outside_the_choices_are_not_answers():
    assert choice_answer("I think E is best") is None
    assert choice_answer("I think E is best", "ABCDE") == "E"
    assert verdict(process_choice({"answer": "B", "choices": list("wxyz")},
                                  ["I am unsure."])) == {
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
    assert verdict(process_integer({"answer": "7"}, [Response(
        "t" + PLAIN_END + "\nthe final answer is 7 apples", PLAIN_END)])) == {
        "exact_match": 1, "unparsed": 0}
    assert process_integer({"answer": "Some work #### 1,234"}, ["\\boxed{1234}"])["exact_match"]
    assert process_integer({"answer": "8"}, [Response(
        "t" + PLAIN_END + "\nthe final answer is 8 = 6 + 2.", PLAIN_END)])["exact_match"] == 1
    assert verdict(process_integer({"answer": "8"}, [Response(
        "4 + 4" + PLAIN_END + "\nthe final answer is unclear", PLAIN_END)])) == {
        "exact_match": 0, "unparsed": 1}


def test_unparsed_is_the_same_rule_for_every_scaler():
    # the baseline and a forced answer with nothing gradable for a maths task
    assert verdict(process_math({"answer": "\\frac{1}{2}"}, ["x" * 200])) == {
        "exact_match": 0, "unparsed": 1}
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


# -- the forced answer as the grader sees it (each case failed on the previous grader) ------
S1_END, PROMPT = "<|im_start|>answer", "Final Answer:"


def forced(answer: str) -> Response:
    """A response forced after a cut: thinking, the run's thinking_end, its answer prompt."""
    return Response(f"some thinking{S1_END}\n{PROMPT} {answer}", S1_END, PROMPT)


@pytest.mark.parametrize("answer,letter", [
    ("A careful check gives (C)", "C"),  # "A" is the article
    ("B\n\nOption A is incorrect since it ignores spin.", "B"),  # later prose does not override
    ("(c)", "C"),  # the choices' lower-case spelling counts
    ("C because the spin is conserved", "C"),
    ("The answer is A since it is the only one", "A"),
])
def test_a_forced_letter_is_the_first_anchored_one_after_the_runs_answer_prompt(answer, letter):
    assert choice_answer(forced(answer)) == letter
    assert verdict(process_choice({"answer": letter, "choices": list("wxyz")},
                                  [forced(answer)])) == {
        "exact_match": 1, "unparsed": 0}


def test_a_free_answer_keeps_its_last_conclusion():
    # no forced prompt (the model answered in its own words): its conclusion is its last
    free = Response(f"t{S1_END}\nOption A seemed right, but the answer is (D).", S1_END, PROMPT)
    assert choice_answer(free) == "D"


@pytest.mark.parametrize("line,number", [
    ("2\\sqrt{3}", "2"), ("$3\\pi$", "3"), ("\\ln 2", "2"), ("the area is 3 pi", "3"),
    ("2\\sqrt{3} units", "2"), ("2^{10}", "2"),
])
def test_a_function_of_a_number_is_never_that_number(line, number):
    assert process_math({"answer": number}, [forced(line)])["exact_match"] == 0


def test_a_whole_expression_still_equals_its_value():
    assert process_math({"answer": "\\sqrt{12}"}, [forced("2\\sqrt{3}")])["exact_match"] == 1
    assert process_math({"answer": "8"}, [forced("8, since 2^3 = 8")])["exact_match"] == 1


@pytest.mark.parametrize("kind,process,gold", [
    ("integer", process_integer, "3"), ("math", process_math, "\\frac{1}{2}"),
    ("choice", process_choice, "B"),
])
def test_a_truncated_box_is_unparsed_not_text(kind, process, gold):
    cut = forced("\\boxed{\\frac{1}{2" if kind == "math" else "\\boxed{3" if kind == "integer"
                 else "\\boxed{(B")
    assert answer_class(cut, kind) is None
    assert verdict(process({"answer": gold, "choices": list("wxyz")}, [cut])) == {
        "exact_match": 0, "unparsed": 1}


def test_a_number_before_a_comma_is_that_number():
    # "5," was the class "5," and graded against "5" as a string
    assert process_integer({"answer": "5"}, [forced("5, since 2 + 3 = 5")])["exact_match"] == 1
    assert integer_answer(forced("there are 5, then 6")) == "5"
    assert same_class("5", "5.0", "integer") and not same_class("5", "6", "integer")


def test_each_sampled_trace_is_graded_and_exact_match_is_their_mean():
    # three sampled traces of one question, as a job hands lm-eval the first with all three
    traces = tuple(Response(f"t</think>\n{text}", "</think>")
                   for text in ("\\boxed{5}", "\\boxed{6}", "\\boxed{\\frac{1}{2"))
    first = Response(traces[0], "</think>")
    first.samples = traces
    graded = process_math({"answer": "5"}, [first])
    assert graded == {"exact_match": 1 / 3, "unparsed": 1, "sample_correct": [1, 0, 0],
                      "sample_unparsed": [0, 0, 1]}
