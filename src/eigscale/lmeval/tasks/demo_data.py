"""`demo_arith`: small multi-step arithmetic word problems with integer answers, generated here.

Deterministic (a fixed seed), offline, and graded against exact integers. The mix of one-,
two- and three-step problems is meant to let a 135M model get some but not all right.
"""

from __future__ import annotations

import random

NAMES = ["Ana", "Ben", "Caro", "Dev", "Emi", "Finn", "Gita", "Hugo", "Ines", "Jon"]
ITEMS = ["apples", "books", "coins", "marbles", "pencils", "stickers", "cards", "shells"]


def _problem(rng: random.Random) -> tuple[str, int]:
    name, item = rng.choice(NAMES), rng.choice(ITEMS)
    a, b, c = rng.randint(2, 9), rng.randint(2, 9), rng.randint(2, 5)
    kind = rng.randrange(5)
    if kind == 0:
        return f"{name} has {a} {item} and gets {b} more. How many {item} does {name} have?", a + b
    if kind == 1:
        total = a + b
        return (f"{name} has {total} {item} and gives away {b}. How many {item} are left?", a)
    if kind == 2:
        return (f"{name} has {c} bags with {a} {item} in each bag. How many {item} are there "
                f"in all?", a * c)
    if kind == 3:
        return (f"{name} has {a} {item}, buys {b} more, then gives away {c}. How many {item} "
                f"does {name} have now?", a + b - c)
    return (f"{name} buys {c} boxes of {a} {item} and finds {b} more. How many {item} does "
            f"{name} have?", a * c + b)


def make_docs(n: int = 100, seed: int = 20261129) -> list[dict]:
    """The demo set: `n` problems, each {"id", "question", "answer"} with an integer answer."""
    rng = random.Random(seed)
    docs = []
    for i in range(n):
        question, answer = _problem(rng)
        docs.append({"id": i, "question": question, "answer": str(answer)})
    return docs
