"""Deterministic grading: the answer after thinking, compared without any judge model.

The answer section is the text after the last end-of-thinking marker (any known format's
`thinking_end`, or the answer prompt); a response with no marker is all answer section. In it,
the answer is the last ``\\boxed{}``; failing that, the line after the first answer phrase
("Final Answer:", "the final answer is", "answer is": the forced answer line, not the model's
later rambling); failing that, the section's first line when it is short. What cannot be
extracted is `None`: scored 0 and counted as unparsed.

Maths answers are compared with math-verify (symbolic equivalence: 1/2 = 0.5 = \\frac{1}{2});
multiple choice by exact letter.
"""

from __future__ import annotations

import re

from eigscale.answers import canonical, last_boxed
from eigscale.params import THINKING_FORMATS

_END_MARKERS = sorted({f["thinking_end"].strip() for f in THINKING_FORMATS.values()}, key=len)
_ANSWER_PHRASE = re.compile(r"(final answer is|final answer\s*:|answer is|answer\s*:)\s*",
                            re.IGNORECASE)
_LETTER = re.compile(r"^\(?([A-J])\)?(?:[.:)\s]|$)")


def answer_section(response: str) -> str:
    """The part of a response after its thinking."""
    cut = max((response.rfind(m) + len(m) for m in _END_MARKERS if m in response), default=0)
    return response[cut:]


def extract(response: str) -> str | None:
    """The answer a response gives, or None if there is none to find."""
    section = answer_section(response)
    boxed = last_boxed(section)
    if boxed is not None:
        return canonical(boxed) or None
    phrases = list(_ANSWER_PHRASE.finditer(section))
    if phrases:
        rest = section[phrases[0].end():].strip().splitlines()
        return canonical(rest[0]) if rest and canonical(rest[0]) else None
    lines = [ln for ln in section.strip().splitlines() if ln.strip()]
    if lines and len(lines[0]) <= 40 and "\\boxed" not in lines[0]:  # not an unclosed box
        return canonical(lines[0]) or None
    return None


def math_equal(answer: str | None, gold: str) -> bool:
    """Symbolic equivalence by math-verify; plain canonical equality first (fast, and enough
    for integers)."""
    if answer is None:
        return False
    if canonical(answer) == canonical(gold):
        return True
    from math_verify import parse, verify

    try:
        g = parse(f"${gold}$")
        a = parse(f"${answer}$")
        return bool(g and a and verify(g, a))
    except Exception:  # math-verify raises on unparseable LaTeX: that is simply not equal
        return False


def choice_letter(answer: str | None) -> str | None:
    """The letter of a multiple-choice answer ("B", "(B)", "B) 42", "b."); None if none."""
    if answer is None:
        return None
    m = _LETTER.match(answer.strip().upper())
    return m.group(1) if m else None


def final_number(text: str | None) -> str | None:
    """The number an answer line gives: "24 eggs" -> 24, "4 * 6 = 24 eggs" -> 24 (the result
    after the last "="), for integer-answer tasks."""
    if text is None:
        return None
    m = re.search(r"-?\d[\d,]*(?:\.\d+)?", text.rsplit("=", 1)[-1])
    return canonical(m.group(0)) if m else None
