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
from typing import Any

from eigscale.answers import canonical, last_boxed
from eigscale.params import ANSWER_KINDS


class Response(str):
    """A response text that knows its run's `thinking_end` (None: no thinking section) and the
    `answer_prompt` its run writes after a cut (None: the run forces no answer). With k
    sampled traces per question, lm-eval sees one response per question: the first trace's,
    carrying all k in `samples` (`traces_of`), which the task's grader grades one by one."""

    thinking_end: str | None
    answer_prompt: str | None
    samples: tuple[Response, ...] = ()

    def __new__(cls, text: str, thinking_end: str | None = None,
                answer_prompt: str | None = None) -> Response:
        obj = super().__new__(cls, text)
        obj.thinking_end = thinking_end or None
        obj.answer_prompt = answer_prompt or None
        return obj

    @classmethod
    def of_run(cls, text: str, params: Any) -> Response:
        """A response of a run with these scaler parameters (their thinking_end and
        answer_prompt, where the rule has them)."""
        return cls(text, getattr(params, "thinking_end", None),
                   getattr(params, "answer_prompt", None))


def traces_of(response: str) -> list[str]:
    """The responses of every sampled trace a response stands for (itself alone, usually)."""
    return list(getattr(response, "samples", ()) or (response,))


def answer_section(response: str, thinking_end: str | None = None) -> str:
    """The part of `response` after its thinking: after the first `thinking_end` (default: the
    one a `Response` carries); the whole response if there is none."""
    marker = thinking_end if thinking_end is not None else getattr(response, "thinking_end",
                                                                   None)
    if marker and marker in response:
        return response[response.index(marker) + len(marker):]
    return str(response)


def forced_answer(response: str, thinking_end: str | None = None) -> str | None:
    """The text after the run's own answer prompt when the answer section opens with it (the
    answer was forced after a cut), else None (the model answered in its own words)."""
    prompt = getattr(response, "answer_prompt", None)
    section = answer_section(response, thinking_end)
    if prompt and section.lstrip().startswith(prompt):
        return section.lstrip()[len(prompt):]
    return None


def truncated_box(text: str) -> bool:
    """Does the text's last \\boxed{ never close (the answer was cut off inside it)?"""
    opens = list(_BOXED_OPEN.finditer(text))
    if not opens:
        return False
    depth = 1
    for ch in text[opens[-1].end():]:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth == 0:
            return False
    return True


_BOXED_OPEN = re.compile(r"\\(?:boxed|fbox)\s*\{")
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
    if truncated_box(section):
        return None  # cut off inside its box: the answer was never written
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
def _parse(text: str) -> list:
    """math-verify's reading of a text ([] where it raises: unparseable LaTeX is no value)."""
    from math_verify import parse

    try:
        return parse(text)
    except Exception:
        return []


def _gold(gold: str) -> list:
    """The gold answer as math-verify reads it: as LaTeX, else as text."""
    from math_verify import parse

    try:
        return parse(f"${gold}$") or parse(gold)
    except Exception:
        return []


def _same(gold: list, answer: list) -> bool:
    from math_verify import verify

    try:
        return bool(gold and answer and verify(gold, answer))
    except Exception:  # math-verify raises on what it cannot compare: that is simply not equal
        return False


# what makes a number only a part of an expression: a function or constant around it
_AFTER = re.compile(r"\s*(?:\\?(?:pi|sqrt|cdot|times|log|ln|exp|sin|cos|tan)\b|π|√|\^|!"
                    r"|\\[a-zA-Z]+)")
_BEFORE = re.compile(r"(?:\\?(?:sqrt|log|ln|exp|sin|cos|tan)|√|\^|\\[a-zA-Z]+)\s*\{?\s*$")


def reduced(text: str, found: str) -> bool:
    """Is `found`, a number extracted from `text`, everywhere in it part of a larger expression
    ("2" of "2\\sqrt{3}", "3" of "3 pi", "2" of "\\ln 2")? An answer is never that number."""
    if not re.fullmatch(r"-?\d+(?:\.\d+)?", found.strip()):
        return False
    spots = [m for m in _NUM.finditer(text) if canonical(m.group(0)) == canonical(found)]
    return bool(spots) and all(_AFTER.match(text, m.end()) or _BEFORE.search(text[:m.start()])
                               for m in spots)


def math_equal(answer: str | None, gold: str) -> bool:
    """Symbolic equivalence by math-verify: canonical equality first (fast, enough for
    integers), then the answer as LaTeX, then math-verify's extraction from the answer line."""
    if answer is None:
        return False
    if canonical(answer) == canonical(gold):
        return True
    g, whole = _gold(gold), _parse(f"${answer}$")
    if _same(g, whole):
        return True
    # read as LaTeX, one expression with no free symbols (2\sqrt{3}, \ln 2, \frac{\pi}{4}) is a
    # whole value, not prose with a value in it: never reduced to a number inside it
    free = getattr(whole[0], "free_symbols", None) if whole else None
    if free is not None and not free:
        return False
    # math-verify's extraction from text finds one number of the line; never one that is only
    # part of the answer's expression (2 in 2\sqrt{3}, 3 in 3\pi, 2 in \ln 2)
    found = _parse(answer)
    return bool(found) and not reduced(answer, str(found[-1])) and _same(g, found)


def math_answer(response: str, thinking_end: str | None = None) -> str | None:
    """What a maths task grades: the extracted answer, else math-verify's last expression of
    the answer section (rule 5)."""
    answer = extract(response, thinking_end)
    section = answer_section(response, thinking_end)
    if answer is not None or truncated_box(section):
        return answer
    parsed = _parse(section[-2000:])
    if not parsed or reduced(section, str(parsed[-1])):
        return None
    return str(parsed[-1])


# -- integers ----------------------------------------------------------------------------
_NUM = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?")  # "5," is 5; "1,200" is 1200
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
    section = answer_section(response, thinking_end)
    if number is not None or truncated_box(section):
        return number
    found = _NUM.findall(section)
    return canonical(found[-1]) if found else None


# -- multiple choice ---------------------------------------------------------------------
# words after which an "A" stays the letter ("A is correct", "A since ..."); before any other
# lower-case word it is the article ("A careful check", "a number")
_AFTER_LETTER = {"is", "was", "since", "because", "as", "and", "or", "but", "so", "then",
                 "would", "will", "seems", "looks", "remains", "fits", "matches", "which",
                 "with", "for", "in", "on", "to", "of", "by", "from", "here", "too", "only"}


def _article(t: str, m: re.Match) -> bool:
    """Is this "A"/"a" the article, not a choice?"""
    word = re.match(r"\s+([a-z]+)\b", t[m.end():])
    return m.group(1) in "Aa" and word is not None and word.group(1) not in _AFTER_LETTER


def choice_letter(text: str | None, choices: str = "ABCD", first: bool = False) -> str | None:
    """The choice letter an answer text gives, from `choices` only (lower-case spellings
    count); see the module doc. first: the text follows the run's own answer prompt, so the
    first anchored letter is the answer and later prose about other options does not
    override it; otherwise a free answer's last anchored letter is its conclusion."""
    if text is None:
        return None
    t = unwrap(text)
    upper, lower = re.escape(choices.upper()), re.escape(choices.lower())
    letters = f"[{upper}{lower}]"
    alone = rf"(?<![A-Za-z])({letters})(?![A-Za-z])"
    boxed = last_boxed(t)
    if boxed is not None:
        inner = unwrap(boxed)
        m = (re.fullmatch(rf"\s*\(?\s*([{upper}])\s*\)?[.:)]?\s*(?:.*)", inner, re.S)
             or re.fullmatch(rf"\s*\(?\s*([{lower}])\s*\)?\.?\s*", inner))
        if m:
            return m.group(1).upper()
    phrase = [m for m in re.finditer(rf"(?i:answer(?:\s+is)?|option|choice)\s*(?i:is)?\s*:?\s*"
                                     rf"(?i:for sure\s+)?\(?\$?{alone}", t)
              if not _article(t, m)]
    paren = list(re.finditer(rf"\(({letters})\)", t))
    if first:
        opening = re.match(rf"\s*\(?\$?{alone}(?=[.:)$]|\s*$|\s*\n|\s+[^a-z\s])", t) or \
            re.match(rf"\s*\(?\$?([{upper}])(?![A-Za-z])", t)
        found = [m for m in (opening, *phrase, *paren) if m and not _article(t, m)]
        if found:
            return min(found, key=lambda m: m.start(1)).group(1).upper()
    if phrase:
        return phrase[-1].group(1).upper()
    if paren:
        return paren[-1].group(1).upper()
    lead = re.match(rf"\s*\(?([{upper}])(?:[.:)\s]|$)", t)
    if lead and not _article(t, lead):
        return lead.group(1)
    standalone = [m for m in re.finditer(rf"(?<![A-Za-z])([{upper}])(?![A-Za-z])", t)
                  if not _article(t, m)]
    return standalone[-1].group(1) if standalone else None


def choice_answer(response: str, choices: str = "ABCD",
                  thinking_end: str | None = None) -> str | None:
    """The letter a multiple-choice task grades: after the run's own answer prompt when the
    answer was forced (its first anchored letter), else from the whole answer section (a
    letter needs no answer line of its own)."""
    section = answer_section(response, thinking_end)
    if truncated_box(section):
        return None
    forced = forced_answer(response, thinking_end)
    region = section if forced is None else forced
    boxed = last_boxed(region)
    if boxed is not None:
        letter = choice_letter(f"\\boxed{{{boxed}}}", choices)
        if letter:
            return letter
    return choice_letter(region, choices, first=forced is not None)


# -- answer classes (what EIG's entropy is over) -----------------------------------------


def answer_class(response: str, kind: str, choices: str = "ABCD") -> str | None:
    """The answer the grader of a task of this kind reads in `response` (a `Response` that
    knows its run's thinking_end and answer prompt): the number an integer task grades, the
    letter of a multiple-choice task, the answer a maths task compares, the canonical text
    otherwise; None when it finds nothing gradable. The one function both grading and EIG's
    classes use: the tasks' `process_results` grade what it returns, and a candidate answer's
    class is what it returns for the response the candidate would make."""
    if kind == "integer":
        return integer_answer(response)
    if kind == "choice":
        return choice_answer(response, choices)
    if kind == "math":
        return math_answer(response)
    if kind == "text":
        return extract(response)
    raise ValueError(f"unknown answer kind {kind!r}; valid: {', '.join(ANSWER_KINDS)}")


def same_class(a: str, b: str, kind: str) -> bool:
    """Would the task's grader call these two answers equal? Integers by value, maths by
    math-verify, letters and text as written."""
    if kind == "math":
        return math_equal(a, b)
    if kind == "integer":
        try:
            return float(a) == float(b)
        except ValueError:
            return a == b
    return a == b


def class_index(classes: list[str], key: str, kind: str) -> int:
    """Index of key's class in `classes`, appended if new: how gradable answers are grouped
    into the outcomes of EIG's entropy (an answer with nothing gradable is in no class)."""
    for i, known in enumerate(classes):
        if same_class(known, key, kind):
            return i
    classes.append(key)
    return len(classes) - 1
