"""Task functions referenced by the YAML files (`!function utils.<name>`)."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from eigscale.grading import answer_class, math_equal, traces_of

INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."


def demo_dataset(**_kwargs):
    """lm-eval `custom_dataset` hook: the generated demo_arith set as a DatasetDict."""
    import datasets

    from eigscale.lmeval.tasks.demo_data import make_docs

    return datasets.DatasetDict({"test": datasets.Dataset.from_list(make_docs())})


def math_prompt(doc: dict) -> str:
    return f"{doc.get('problem') or doc.get('question')}\n{INSTRUCTION}"


def gsm8k_gold(doc: dict) -> str:
    return doc["answer"].split("####")[-1].strip()


def _graded(results: list[str], grade: Callable[[str], tuple[bool, str | None]]
            ) -> dict[str, Any]:
    """Grade each sampled trace the response stands for (eigscale.grading.traces_of; one,
    usually): exact_match is their mean (pass@1 over the question's k traces), `unparsed` how
    many have nothing gradable for the task's kind; `sample_correct` and `sample_unparsed`
    keep each trace's own verdict, in sample order."""
    verdicts = [grade(r) for r in traces_of(results[0])]
    correct = [int(ok) for ok, _ in verdicts]
    unparsed = [int(answer is None) for _, answer in verdicts]
    return {"exact_match": sum(correct) / len(correct), "unparsed": sum(unparsed),
            "sample_correct": correct, "sample_unparsed": unparsed}


def process_math(doc: dict, results: list[str]) -> dict[str, Any]:
    """MATH-500 / AIME: symbolic equivalence with the gold answer."""
    def grade(response: str) -> tuple[bool, str | None]:
        answer = answer_class(response, "math")
        return math_equal(answer, str(doc["answer"])), answer
    return _graded(results, grade)


def process_integer(doc: dict, results: list[str]) -> dict[str, Any]:
    """gsm8k / demo_arith: the answer's number against the gold integer."""
    gold = gsm8k_gold(doc) if "####" in str(doc["answer"]) else str(doc["answer"])

    def grade(response: str) -> tuple[bool, str | None]:
        answer = answer_class(response, "integer")
        return math_equal(answer, gold), answer
    return _graded(results, grade)


LETTERS = "ABCD"


def gpqa_docs(dataset):
    """Fixed, seeded choice order per question (seeded by its text, not by run or position)."""

    def shuffle(doc: dict) -> dict:
        choices = [doc["Correct Answer"], doc["Incorrect Answer 1"], doc["Incorrect Answer 2"],
                   doc["Incorrect Answer 3"]]
        order = list(range(4))
        random.Random(doc["Question"]).shuffle(order)
        shuffled = [choices[i].strip() for i in order]
        return {"question": doc["Question"].strip(), "choices": shuffled,
                "answer": LETTERS[order.index(0)]}

    return dataset.map(shuffle, remove_columns=dataset.column_names)


def gpqa_prompt(doc: dict) -> str:
    options = "\n".join(f"({LETTERS[i]}) {c}" for i, c in enumerate(doc["choices"]))
    return (f"{doc['question']}\n\n{options}\n\nPlease reason step by step, and put the letter "
            f"of your final answer within \\boxed{{}}.")


def process_choice(doc: dict, results: list[str]) -> dict[str, Any]:
    """GPQA: a letter of the question's own choices, exactly."""
    def grade(response: str) -> tuple[bool, str | None]:
        letter = answer_class(response, "choice", LETTERS[:len(doc.get("choices") or LETTERS)])
        return letter == doc["answer"], letter
    return _graded(results, grade)


def count(items: list[int]) -> int:
    """Aggregation: a count rather than a mean (used for `unparsed`)."""
    return int(sum(items))


def count_all(items: list[list[int]]) -> int:
    """Aggregation of per-trace lists: how many traces in all (`sample_unparsed`)."""
    return int(sum(sum(x) for x in items))


def pass_at_1(items: list[list[int]]) -> float:
    """Aggregation of per-trace lists: the share of every question's every trace that is
    right (`sample_correct`; with the same k for every question, exact_match's mean)."""
    flat = [x for per_question in items for x in per_question]
    return sum(flat) / len(flat) if flat else float("nan")
