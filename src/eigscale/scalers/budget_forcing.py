"""`budget_forcing`: s1's test-time scaling by a fixed thinking budget.

Thinking runs until the budget (max_tokens_thinking) or a natural end. The first
`thinking_n_ignore` natural ends are suppressed by appending `thinking_n_ignore_str` ("Wait"), so
the model keeps thinking; then the answer is forced.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eigscale.params import ThinkingParams, param
from eigscale.records import QuestionRecord
from eigscale.scalers.cuts import cap_cut, tokens_to
from eigscale.scalers.thinking import RunContext, ThinkingScaler, Thought


@dataclass(frozen=True)
class BudgetForcingParams(ThinkingParams):
    """`budget_forcing` (s1): cap thinking, optionally suppress its end N times with "Wait"."""

    thinking_n_ignore: int = param(0, int, 0, 1000)
    """How many times a natural end of thinking is ignored and thinking_n_ignore_str appended."""

    thinking_n_ignore_str: str = param("Wait", str)
    """What is appended when an end of thinking is ignored."""


class BudgetForcing(ThinkingScaler):
    name = "budget_forcing"
    params_class = BudgetForcingParams
    label = "budget forcing"
    colour = "#1f77b4"
    modules = ("eigscale.scalers.budget_forcing", "eigscale.scalers.thinking")
    replay_vary = "max_tokens_thinking"
    params: BudgetForcingParams

    def on_events(self, ctx: RunContext, thoughts: list[Thought]) -> None:
        for t in thoughts:
            if t.record.extensions >= self.params.thinking_n_ignore:
                t.stop("natural_end")
            elif self.append(ctx, t, self.params.thinking_n_ignore_str):
                t.record.extensions += 1

    def replay_cut(self, t: Thought, rec: QuestionRecord, memory: dict[str, Any]
                   ) -> tuple[int, str, int]:
        # the cap c cuts the trace (made with the largest cap) where a live run capped at c
        # stops: at c, at a natural end whose stop string completes within c, or before a
        # "Wait" that would not fit; budget forcing records no decisions
        rec.decisions = []
        return cap_cut(t, int(self.params.max_tokens_thinking), self.params.thinking_n_ignore)

    def replay_thinking(self, t: Thought, at: int) -> list[int]:
        return tokens_to(t, at)
