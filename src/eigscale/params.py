"""Typed, documented, validated parameters for the scalers.

Every field is declared with `param(...)`: its type, default and (for numbers) its allowed range.
There is one validation path, `Params.from_kwargs`, and one error type, `ParamError`:

- an unknown name is an error that names it and lists the valid ones;
- a wrong type is an error that names the key, the value and the expected type;
- an out-of-range number is clamped, with a `ParamClampWarning` that names the parameter, the
  value given and the value used (the seed's behaviour: runs are not lost to a typo'd range).

`source` (a file name, "gen_kwargs", ...) is carried into every message so a user knows where
the bad value came from.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from eigscale.errors import ParamError

P = TypeVar("P", bound="Params")
# the one default seed: scalers, lm-eval's --seed in the workflow, eigscale-sweep
DEFAULT_SEED = 1234


class ParamClampWarning(UserWarning):
    """A numeric parameter was outside its range and has been clamped into it."""


def param(default: Any, kind: type | tuple[type, ...], lo: float | None = None,
          hi: float | None = None, words: tuple[str, ...] = (),
          choices: tuple[str, ...] = ()) -> Any:
    """Declare a field: default, accepted type(s), optional [lo, hi] range, accepted words
    (e.g. "auto") that stand in for a number, or the only values a text may take."""
    return field(default=default, metadata={"kind": kind, "lo": lo, "hi": hi, "words": words,
                                            "choices": choices})


def _type_name(kind: type | tuple[type, ...], words: tuple[str, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = [k.__name__ for k in kinds] + [repr(w) for w in words]
    return " or ".join(names)


def _check(name: str, value: Any, meta: Mapping[str, Any], source: str) -> Any:
    kind, lo, hi, words = meta["kind"], meta["lo"], meta["hi"], meta["words"]
    if isinstance(value, str) and value in words:
        return value
    kinds = kind if isinstance(kind, tuple) else (kind,)
    ok = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
    if not ok and float in kinds and isinstance(value, int) and not isinstance(value, bool):
        value, ok = float(value), True  # 1 is a fine float
    if not ok:
        raise ParamError(f"{source}: parameter '{name}' = {value!r} has type "
                         f"{type(value).__name__}; expected {_type_name(kind, words)}",
                         param=name, value=value, source=source)
    if meta.get("choices") and value not in meta["choices"]:
        raise ParamError(f"{source}: parameter '{name}' = {value!r} is not one of "
                         f"{', '.join(meta['choices'])}", param=name, value=value, source=source)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        used = value
        if lo is not None and value < lo:
            used = type(value)(lo)
        if hi is not None and value > hi:
            used = type(value)(hi)
        if used != value:
            warnings.warn(ParamClampWarning(
                f"{source}: parameter '{name}' = {value!r} is outside [{lo}, {hi}]; "
                f"using {used!r}"), stacklevel=4)
            value = used
    return value


@dataclass(frozen=True)
class Params:
    """Base of every parameter object. Subclasses declare fields with `param()`."""

    debug: bool = param(False, bool)
    """Log every decision as it happens (level INFO on the `eigscale` logger)."""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = _check(f.name, getattr(self, f.name), f.metadata, type(self).__name__)
            object.__setattr__(self, f.name, value)

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_kwargs(cls: type[P], kwargs: Mapping[str, Any], source: str = "gen_kwargs") -> P:
        """Build from a mapping, validating every key against this class's fields."""
        valid = cls.names()
        unknown = sorted(k for k in kwargs if k not in valid)
        if unknown:
            raise ParamError(f"{source}: unknown parameter(s) {', '.join(map(repr, unknown))} "
                             f"for {cls.__name__}; valid: {', '.join(valid)}",
                             param=unknown[0], source=source)
        meta = {f.name: f.metadata for f in dataclasses.fields(cls)}
        checked = {k: _check(k, v, meta[k], source) for k, v in kwargs.items()}
        with warnings.catch_warnings():
            # values were already checked (and any clamp reported) against the right source
            warnings.simplefilter("ignore", ParamClampWarning)
            return cls(**checked)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class ThinkingParams(Params):
    """What every thinking scaler shares: delimiters, budget, forced answer, seed."""

    max_tokens_thinking: int | str = param("auto", int, 1, 10_000_000, words=("auto",))
    """Thinking budget in tokens (inserted prompts such as "Wait" count). "auto" gives thinking
    all of the generation budget except the forced-answer prompt and min_answer_tokens (s1's
    rule; see eigscale.lengths)."""

    thinking_start: str = param("<|im_start|>think", str)
    """Appended to the prompt to open the thinking section (s1). R1-style models: "<think>"."""

    thinking_end: str = param("<|im_start|>answer", str)
    """Closes thinking; generating it is a natural end of thinking (s1). R1-style: "</think>"."""

    until_thinking: str = param("<|im_start|>", str)
    """Another string that ends thinking when generated (s1's until_thinking); "" for none."""

    answer_prompt: str = param("Final Answer:", str)
    """Written after thinking_end and a newline to force the answer (s1's "Final Answer:")."""

    max_answer_tokens: int | str = param("auto", int, 1, 4096, words=("auto",))
    """Token limit of each candidate answer a posterior rule draws (the forced answer has its
    own room); a cut candidate is no class. "auto": by the answer kind, room for a sentence
    around the answer (integer and choice 64, math 128, text 64; see eigscale.scalers.posterior
    for the measurement)."""

    min_answer_tokens: int = param(100, int, 1, 32768)
    """Least room of the forced answer, and what "auto" keeps for it (s1's 100: "Leave 100
    tokens for answer"). As in s1 the forced answer gets what is left of the generation
    budget (max_gen_toks minus thinking and the answer prompt), never less than this."""

    seed: int = param(DEFAULT_SEED, int, 0, 2**31 - 1)
    """Seeds every sampled draw, per (question, decision, purpose): batch-independent."""


THINKING_FORMATS: dict[str, dict[str, str]] = {
    # s1 / s1.1 (Qwen ChatML): the model writes "<|im_start|>answer" when it is done thinking
    "s1": {"thinking_start": "<|im_start|>think", "thinking_end": "<|im_start|>answer",
           "until_thinking": "<|im_start|>", "answer_prompt": "Final Answer:"},
    # DeepSeek-R1 and its distills, QwQ: <think> ... </think>
    "r1": {"thinking_start": "<think>\n", "thinking_end": "</think>", "until_thinking": "",
           "answer_prompt": "Final Answer:"},
    # instruct models with no thinking section (e.g. SmolLM2): a written one; EOS ends it
    "plain": {"thinking_start": "Let's think step by step.\n", "thinking_end": "\n\nTherefore,",
              "until_thinking": "", "answer_prompt": "the final answer is"},
}


def apply_thinking_format(kwargs: Mapping[str, Any], source: str = "gen_kwargs") -> dict[str, Any]:
    """Expand `thinking_format=<name>` into its delimiters; keys given explicitly win."""
    out = dict(kwargs)
    name = out.pop("thinking_format", None)
    if name is None:
        return out
    if name not in THINKING_FORMATS:
        raise ParamError(f"{source}: thinking_format = {name!r} is unknown; "
                         f"valid: {', '.join(THINKING_FORMATS)}",
                         param="thinking_format", value=name, source=source)
    return {**THINKING_FORMATS[name], **out}


# the answer equivalence a task grades with (eigscale.grading.answer_class)
ANSWER_KINDS = ("integer", "math", "choice", "text")
# how a rule with an exit of its own may end a question: "unified" (thinking_end + answer
# prompt + the forced answer, as every rule) or "native" (the rule's own)
EXITS = ("unified", "native")


