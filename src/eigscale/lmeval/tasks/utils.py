"""Task functions referenced by the YAML files (`!function utils.<name>`)."""

from __future__ import annotations

import random

from eigscale.grading import answer_class, math_equal

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


def _result(correct: bool, answer: str | None) -> dict[str, int]:
    """`unparsed`: nothing gradable for this task's kind (eigscale.grading)."""
    return {"exact_match": int(correct), "unparsed": int(answer is None)}


def process_math(doc: dict, results: list[str]) -> dict[str, int]:
    """MATH-500 / AIME: symbolic equivalence with the gold answer."""
    answer = answer_class(results[0], "math")
    return _result(math_equal(answer, str(doc["answer"])), answer)


def process_integer(doc: dict, results: list[str]) -> dict[str, int]:
    """gsm8k / demo_arith: the answer's number against the gold integer."""
    answer = answer_class(results[0], "integer")
    gold = gsm8k_gold(doc) if "####" in str(doc["answer"]) else str(doc["answer"])
    return _result(math_equal(answer, gold), answer)


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


def process_choice(doc: dict, results: list[str]) -> dict[str, int]:
    """GPQA: a letter of the question's own choices, exactly."""
    letter = answer_class(results[0], "choice", LETTERS[:len(doc.get("choices") or LETTERS)])
    return _result(letter == doc["answer"], letter)


def count(items: list[int]) -> int:
    """Aggregation: a count rather than a mean (used for `unparsed`)."""
    return int(sum(items))
