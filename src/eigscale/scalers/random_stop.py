"""`random_stop`: stopping at random decision points, the control for a rule's timing.

Thinking is cut into the same grid of decision points an EIG run uses (every `step_tokens`
thinking tokens). At each point the question stops with probability `stop_probability`, by a
uniform draw seeded by the run's seed, the question and the point, so the same question meets
the same draws in every run and in a replay; the model's own end of thinking ends it too. It
reads nothing of the model: no candidates, no probes, no side tokens; its cost is its thinking.

Why: an adaptive rule spends its budget where it chooses. Whether the *choice* carries
information is only shown against a rule that spends a budget of the same size at random
times: a sweep of stop_probability traces random timing's curve in the accuracy-compute plane,
and a rule whose decisions inform lies above it at equal compute.

Random timing can also be matched to one rule's own stop times (`permuted_stops`): the rule's
early stop points, dealt to the questions at random. The stop-time distribution and the share
of questions stopped early are the rule's exactly; only which question stops when is chance.
The analysis answers those stops on the oracle grid's trace (eigscale.pipeline.analysis,
`timing_control`), question by question against the rule.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import numpy as np

from eigscale.params import ThinkingParams, param
from eigscale.records import Decision, QuestionRecord
from eigscale.scalers.base import derive_seed
from eigscale.scalers.cuts import stop_at, uncut
from eigscale.scalers.thinking import RunContext, ThinkingScaler, Thought


@dataclass(frozen=True)
class RandomStopParams(ThinkingParams):
    """`random_stop`: at every decision point, stop with a fixed probability."""

    stop_probability: float = param(0.25, float, 0.0, 1.0)
    """Chance of stopping at each decision point (a geometric stopping time: on average
    (1 - p) / p points are passed); 0 never stops early, 1 stops at the first point."""

    step_tokens: int = param(256, int, 1, 1_000_000)
    """Thinking tokens between decision points (EIG's default grid); the first point is after
    the first step."""


def draw(seed: int, uid: str, at: int) -> float:
    """The uniform draw of the decision point at `at` thinking tokens of question `uid`."""
    return random.Random(derive_seed(seed, uid, at, "random_stop")).random()


def permuted_stops(stops: np.ndarray, draws: int, seed: int) -> np.ndarray:
    """(draws, N): in each draw, a seeded permutation of one run's per-question early stop
    points (inf where it did not stop early) over its N questions."""
    rng = np.random.default_rng(seed)
    return np.stack([rng.permutation(np.asarray(stops, dtype=float)) for _ in range(draws)])


class RandomStop(ThinkingScaler):
    name = "random_stop"
    params_class = RandomStopParams
    label = "random stop"
    colour = "#8c564b"
    modules = ("eigscale.scalers.random_stop", "eigscale.scalers.thinking")
    stop_reasons = ("random_stop",)
    # every run meets the same draws: a smaller probability stops at the same point or later
    replay_vary = "stop_probability"
    replay_tracer = "smallest"
    params: RandomStopParams

    def step_limit(self, thought: Thought, remaining: int) -> int:
        step = self.params.step_tokens  # to the next point of the grid
        return min(step - len(thought.thinking) % step, remaining)

    def on_events(self, ctx: RunContext, thoughts: list[Thought]) -> None:
        p = self.params
        for t in thoughts:
            if t.event == "end":
                t.stop("natural_end")
                continue
            u = draw(p.seed, t.record.uid, len(t.thinking))
            stop = u < p.stop_probability
            t.record.decisions.append(Decision(
                index=len(t.record.decisions), kind="step", thinking_tokens=len(t.thinking),
                decision="stop" if stop else "continue", scores={"u": u}))
            if stop:
                t.stop("random_stop")

    def replay_cut(self, t: Thought, rec: QuestionRecord, memory: dict[str, Any]
                   ) -> tuple[int, str, int]:
        # the first recorded point whose draw falls below this run's probability
        for k, d in enumerate(rec.decisions):
            if d.scores["u"] < self.params.stop_probability:
                return stop_at(t, rec, k, "random_stop")
        return uncut(t, rec)
