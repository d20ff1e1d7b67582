"""`budget_forcing`: s1's test-time scaling by a fixed thinking budget.

Thinking runs until the budget (max_tokens_thinking) or a natural end. The first
`thinking_n_ignore` natural ends are suppressed by appending `thinking_n_ignore_str` ("Wait"), so
the model keeps thinking; then the answer is forced.
"""

from __future__ import annotations

from eigscale.params import BudgetForcingParams
from eigscale.scalers.thinking import RunContext, ThinkingScaler, Thought


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
