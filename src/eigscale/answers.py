"""Answer extraction and canonical forms, shared by candidate de-duplication and grading.

A model's answer is the content of its last ``\\boxed{...}`` if it has one, else its first
non-empty line. The canonical form strips dollar signs, trailing punctuation and a leading
"The answer is"; integers and decimals are written the one way (``1,000`` -> ``1000``,
``4.0`` -> ``4``) so that candidates that mean the same number collapse into one.
"""

from __future__ import annotations

import re

_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")
_NUMBER = re.compile(r"^[+-]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?$")
_LEAD = re.compile(r"^(the\s+)?(final\s+)?answer\s*(is|:)?\s*", re.IGNORECASE)


def last_boxed(text: str) -> str | None:
    """Content of the last \\boxed{...} in `text`, nested braces respected; None if absent or
    unclosed."""
    starts = [m.end() for m in _BOXED.finditer(text)]
    for start in reversed(starts):
        depth = 1
        for i in range(start, len(text)):
            if text[i] == "{":
                depth += 1
            elif text[i] == "}":
                depth -= 1
                if depth == 0:
                    return text[start:i]
    return None


def canonical(answer: str) -> str:
    """One spelling per value: see module doc. Non-numbers are only trimmed."""
    a = answer.strip().strip("$").strip()
    a = _LEAD.sub("", a).strip()
    a = a.rstrip(".").strip().strip("$").strip()
    if _NUMBER.match(a):
        a = a.replace(",", "")
        if "." in a:
            a = a.rstrip("0").rstrip(".")
        if a.startswith("+"):
            a = a[1:]
        if a in ("-0", ""):
            a = "0"
    return a


def extract_answer(text: str) -> str:
    """The canonical answer in a model's answer text; "" when there is none."""
    boxed = last_boxed(text)
    if boxed is not None:
        return canonical(boxed)
    for line in text.splitlines():
        if line.strip():
            return canonical(line)
    return ""
