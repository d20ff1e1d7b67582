"""How long each part of a run may be, derived once per task and never by cutting a prompt.

A question's sequence is: prompt (+ thinking start) + thinking + answer prompt + forced answer,
and it must fit the model's context, `max_model_len`. The rule, s1's:

- the generation budget is `max_gen_toks`, unless the longest prompt leaves less room; then it
  is `max_model_len - longest prompt` (s1 derives its budget the same way) and the summary says
  so (`lengths.derived`). Every question of the task gets the same budget, whatever its length;
- a thinking budget of "auto" is the generation budget minus the answer prompt minus
  `min_answer_tokens`; an explicit one must leave the answer prompt and `min_answer_tokens`
  inside the context for the longest prompt;
- the forced answer gets the rest of the generation budget, at least `min_answer_tokens`
  (`answer_room`), and never more than the context holds.

Prompts are never truncated: a prompt that leaves no room is a LengthError naming the question,
its length and the settings, raised before the first engine call. `prompts_cut` is always 0; it
is reported so a reader of the summary does not have to take that on trust.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from eigscale.errors import ParamError


class LengthError(ParamError):
    """The settings cannot fit a question into the model's context."""


@dataclass(frozen=True)
class LengthPlan:
    """The lengths one run uses (all in tokens)."""

    max_model_len: int
    max_gen_toks: int  # asked for
    gen_budget: int  # used: max_gen_toks, or less when the longest prompt leaves less
    thinking_budget: int | None  # None for a scaler without thinking
    longest_prompt: int  # prompt + thinking start, if appended
    longest_prompt_id: str
    derived: bool  # gen_budget < max_gen_toks
    prompts_cut: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def plan_lengths(prompt_lens: Sequence[int], max_model_len: int, max_gen_toks: int,
                 labels: Sequence[str] | None = None, *, tail: int = 0, min_answer: int = 0,
                 max_tokens_thinking: int | str | None = None) -> LengthPlan:
    """The plan for prompts of these lengths, or LengthError. `max_tokens_thinking` None means
    no thinking (the plain baseline); `tail` is the answer prompt's length in tokens."""
    if not prompt_lens:
        raise ValueError("no prompts to plan for")
    labels = list(labels) if labels is not None else [f"prompt {i}" for i in
                                                      range(len(prompt_lens))]
    worst = max(range(len(prompt_lens)), key=lambda i: prompt_lens[i])
    longest, who = prompt_lens[worst], str(labels[worst])
    if longest >= max_model_len:
        raise LengthError(f"{who} is {longest} tokens long, which leaves no room in "
                          f"max_model_len={max_model_len}; it is not cut (raise max_model_len or "
                          "drop the question)", param="max_model_len", value=max_model_len,
                          source=who)
    gen_budget = min(max_gen_toks, max_model_len - longest)
    thinking = None
    if max_tokens_thinking is not None:
        room = max_model_len - longest - tail - min_answer
        if max_tokens_thinking == "auto":
            thinking = gen_budget - tail - min_answer
            if thinking < 1:
                raise LengthError(
                    f"max_tokens_thinking=auto leaves no thinking: max_gen_toks={max_gen_toks}, "
                    f"max_model_len={max_model_len}, longest prompt {longest} tokens ({who}), "
                    f"answer prompt {tail} and min_answer_tokens={min_answer} tokens",
                    param="max_tokens_thinking", value="auto", source=who)
        else:
            thinking = int(max_tokens_thinking)
            if thinking > room:
                raise LengthError(
                    f"max_tokens_thinking={thinking} does not fit: max_model_len="
                    f"{max_model_len} minus the longest prompt ({longest} tokens, {who}), the "
                    f"answer prompt ({tail}) and min_answer_tokens={min_answer} leaves {room}",
                    param="max_tokens_thinking", value=thinking, source=who)
    return LengthPlan(max_model_len, max_gen_toks, gen_budget, thinking, longest, who,
                      gen_budget < max_gen_toks)


def answer_room(plan: LengthPlan, min_answer: int, prompt_len: int, used: int) -> int:
    """Tokens the forced answer may take after `used` generated tokens (thinking + answer
    prompt) of a question whose prompt is `prompt_len` long: the rest of the generation budget,
    at least min_answer, at most what the context still holds."""
    return max(1, min(max(min_answer, plan.gen_budget - used),
                      plan.max_model_len - prompt_len - used))
