"""Deterministic grading: the answer a response gives, compared without any judge model.

Where the answer is. A scaler's response is thinking + the run's own `thinking_end` (+ the
answer prompt) + the forced answer; the thinking never holds its run's own delimiter (it is a
stop string), so the answer section starts after the *first* `thinking_end` of that run. The
scalers return their responses as `Response` strings that carry it; another format's marker is
never taken for it (an r1 trace may well write "Therefore,"). A response without one (the
`none` baseline, or an answer the model gave unforced) is all answer section.

What the answer is, in that section (first rule that finds something):

1. the last ``\\boxed{}`` (``\\fbox``), its ``\\text{}``/``\\textbf{}``/``\\mathrm{}`` and
   markdown emphasis unwrapped;
2. Minerva's "Final Answer: The final answer is X. I hope it is correct.";
3. the text after an answer phrase ("final answer is", "answer is", "answer:", "Final
   Answer:", simple-evals' "Answer: X"), to the end of its line: the one that opens the
   section (the forced answer line), else the last one;
4. the section's first line, when short;
5. maths only: math-verify's own extraction over the whole section (the last expression), as
   Math-Verify and lighteval grade free-form text.

Per task kind: maths compares with math-verify (canonical string first, then the answer as
LaTeX, then math-verify on the whole answer line, which finds its final expression: "8, since
2^3 = 8" is 8); integer tasks take one number ("4 * 6 = 24 eggs" and "24 = 4 * 6" are 24; the
side of an "=" that is a bare number wins); multiple choice takes a letter of the task's own
choices only (boxed, then after an answer phrase, then parenthesised, then leading, then the
last standalone one: "A careful check gives (C)" is C, "I believe it is C" is C). Nothing
gradable for the task is `None`: scored 0 and counted as unparsed.
"""

from __future__ import annotations

import re

from eigscale.answers import canonical, last_boxed
from eigscale.params import ANSWER_KINDS


class Response(str):
    """A response text that knows its run's `thinking_end` (None: no thinking section)."""

    thinking_end: str | None

    def __new__(cls, text: str, thinking_end: str | None = None) -> Response:
        obj = super().__new__(cls, text)
        obj.thinking_end = thinking_end or None
        return obj


def answer_section(response: str, thinking_end: str | None = None) -> str:
    """The part of `response` after its thinking: after the first `thinking_end` (default: the
    one a `Response` carries); the whole response if there is none."""
    marker = thinking_end if thinking_end is not None else getattr(response, "thinking_end",
                                                                   None)
    if marker and marker in response:
        return response[response.index(marker) + len(marker):]
    return str(response)


_WRAPPERS = re.compile(r"\\(?:text|textbf|mathrm|mathbf|textit|emph|mbox)\s*\{([^{}]*)\}")
_EMPHASIS = re.compile(r"(\*\*|__|\*|_)(\S(?:.*?\S)?)\1")
_MINERVA = re.compile(r"final answer is\s*(.+?)\.?\s*I hope it is correct", re.I | re.S)
_PHRASE = re.compile(r"(?:final\s+answer\s*(?:is|:)|answer\s+is|answer\s*:|\banswer\b(?=\s*[(\[]?"
                     r"[A-J][)\].:,\s]*$))\s*:?\s*", re.I)


def unwrap(text: str) -> str:
    """Strip LaTeX text wrappers and markdown emphasis: "\\textbf{(C)}" -> "(C)", "**C**" ->
    "C"."""
    prev = None
    while prev != text:
        prev, text = text, _WRAPPERS.sub(r"\1", text)
    return _EMPHASIS.sub(r"\2", text)


def extract(response: str, thinking_end: str | None = None) -> str | None:
    """The answer text a response gives (rules 1-4 of the module doc), or None."""
    section = answer_section(response, thinking_end)
    boxed = last_boxed(section)
    if boxed is not None:
        return canonical(unwrap(boxed)) or None
    found = _MINERVA.search(section)
    if found:
        return canonical(unwrap(found.group(1))) or None
    phrases = list(_PHRASE.finditer(section))
    opening = section[:phrases[0].start()].lstrip() if phrases else "\n"
    if "\n" not in opening and len(opening) <= 20:
        phrases = phrases[:1]  # the forced answer line opens the section: it is the answer
    for m in reversed(phrases):
        line = unwrap(section[m.end():].strip().split("\n")[0])
        if canonical(line):
            return canonical(line)
    lines = [ln for ln in unwrap(section).strip().splitlines() if ln.strip()]
    if lines and len(lines[0]) <= 40 and "\\boxed" not in lines[0]:  # not an unclosed box
        return canonical(lines[0]) or None
    return None


# -- maths -------------------------------------------------------------------------------
def _verify(gold: str, answer: str, wrap: bool) -> bool:
    from math_verify import parse, verify

    try:
        g = parse(f"${gold}$") or parse(gold)
        a = parse(f"${answer}$" if wrap else answer)
        return bool(g and a and verify(g, a))
    except Exception:  # math-verify raises on unparseable LaTeX: that is simply not equal
        return False


def math_equal(answer: str | None, gold: str) -> bool:
    """Symbolic equivalence by math-verify: canonical equality first (fast, enough for
    integers), then the answer as LaTeX, then math-verify's extraction from the answer line."""
    if answer is None:
        return False
    if canonical(answer) == canonical(gold):
        return True
    return _verify(gold, answer, wrap=True) or _verify(gold, answer, wrap=False)


def math_answer(response: str, thinking_end: str | None = None) -> str | None:
    """What a maths task grades: the extracted answer, else math-verify's last expression of
    the answer section (rule 5)."""
    answer = extract(response, thinking_end)
    if answer is not None:
        return answer
    from math_verify import parse

    try:
        parsed = parse(answer_section(response, thinking_end)[-2000:])
    except Exception:
        return None
    return str(parsed[-1]) if parsed else None


# -- integers ----------------------------------------------------------------------------
_NUM = re.compile(r"-?\d[\d,]*(?:\.\d+)?")
_BARE = re.compile(r"^\s*\(?\$?\s*(-?\d[\d,]*(?:\.\d+)?)\s*\$?\s*[A-Za-z%.) ]*$")


def final_number(text: str | None) -> str | None:
    """The number an answer line gives, for integer-answer tasks: "24 eggs" -> 24,
    "4 * 6 = 24 eggs" -> 24, "8 = 6 + 2" -> 8 (the side of an "=" that is a bare number, the
    last such), "8, since 2^3 = 8" -> 8; otherwise the line's first number."""
    if text is None:
        return None
    sides = re.split(r"[,;]\s|=|\bsince\b|\bbecause\b", text)
    if len(sides) > 1:
        for side in reversed(sides):
            bare = _BARE.match(side)
            if bare:
                return canonical(bare.group(1))
    m = _NUM.search(text)
    return canonical(m.group(0)) if m else None


def integer_answer(response: str, thinking_end: str | None = None) -> str | None:
    """The number an integer task grades: from the extracted answer, else the last number of
    the answer section (lm-eval's gsm8k "flexible-extract")."""
    number = final_number(extract(response, thinking_end))
    if number is not None:
        return number
    found = _NUM.findall(answer_section(response, thinking_end))
    return canonical(found[-1]) if found else None


# -- multiple choice ---------------------------------------------------------------------
def choice_letter(text: str | None, choices: str = "ABCD") -> str | None:
    """The choice letter an answer text gives, from `choices` only (see module doc)."""
    if text is None:
        return None
    t = unwrap(text)
    letters = f"[{re.escape(choices)}]"
    alone = rf"(?<![A-Za-z])({letters})(?![A-Za-z])"
    boxed = last_boxed(t)
    if boxed is not None:
        m = re.fullmatch(rf"\s*\(?\s*({letters})\s*\)?[.:)]?\s*(?:.*)", unwrap(boxed), re.S)
        if m:
            return m.group(1)
    anchored = list(re.finditer(rf"(?i:answer(?:\s+is)?|option|choice)\s*(?i:is)?\s*:?\s*"
                                rf"(?i:for sure\s+)?\(?\$?{alone}", t))
    if anchored:
        return anchored[-1].group(1)
    paren = re.findall(rf"\(({letters})\)", t)
    if paren:
        return paren[-1]
    lead = re.match(rf"\s*\(?({letters})(?:[.:)\s]|$)", t)
    if lead:
        return lead.group(1)
    standalone = re.findall(alone, t)
    return standalone[-1] if standalone else None


def choice_answer(response: str, choices: str = "ABCD",
                  thinking_end: str | None = None) -> str | None:
    """The letter a multiple-choice task grades: from the whole answer section (a letter needs
    no answer line of its own)."""
    section = answer_section(response, thinking_end)
    boxed = last_boxed(section)
    if boxed is not None:
        letter = choice_letter(f"\\boxed{{{boxed}}}", choices)
        if letter:
            return letter
    return choice_letter(section, choices)


# -- answer classes (what EIG's entropy is over) -----------------------------------------


def answer_class(text: str, kind: str) -> str | None:
    """The class of an answer text under the grader of a task of this kind: the number an
    integer task grades, the letter of a multiple-choice task, the answer a maths task compares
    (classes are then merged by `same_class`), the canonical text otherwise; None when the task
    would find nothing gradable (such answers form no class)."""
    if kind == "integer":
        return integer_answer(text)
    if kind == "choice":
        return choice_answer(text)
    if kind == "math":
        return math_answer(text)
    if kind == "text":
        return extract(text)
    raise ValueError(f"unknown answer kind {kind!r}; valid: {', '.join(ANSWER_KINDS)}")


def same_class(a: str, b: str, kind: str) -> bool:
    """Would the task's grader call these two answers equal? (maths: math-verify)"""
    return math_equal(a, b) if kind == "math" else a == b


def class_index(classes: list[str | None], key: str | None, kind: str) -> int:
    """Index of key's class in `classes`, appended if new (None, nothing gradable, is a class
    of its own): how answers are grouped into the outcomes of EIG's entropy."""
    for i, known in enumerate(classes):
        if key is None or known is None:
            if key is known:
                return i
        elif same_class(known, key, kind):
            return i
    classes.append(key)
    return len(classes) - 1
