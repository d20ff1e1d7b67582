"""`deer`: stop at a reasoning transition when a trial answer is confident (DEER, Yang et al.).

Thinking runs until the model writes the transition word ("Wait") or ends. At each such point
(at most `max_judge_steps` per question) one batched call writes, per question there, a greedy
trial answer: the thinking before the transition (left open) + `trial_prompt`, at most
`trial_tokens` tokens, cut where the boxed answer closes. Its confidence is the mean (or
geometric mean, or minimum) probability of its tokens after the first (the "{" after \\boxed),
the closing stop left out, as DEER's reference (transformers) implementation computes it;
an empty trial answer has confidence 0. Confidence > threshold: thinking stops before the
transition. Otherwise the trial answer is discarded and thinking goes on with the transition
word the model wrote, so the trace is the uninterrupted greedy one (replayable).

The trial answers are greedy (DEER's vLLM script samples them at temperature 1; its reference
implementation is greedy): deterministic, so a replay sees the same. Trial tokens are counted
as probe tokens, on the total-compute axis.

Exit: "unified" (the default) forces the answer like every rule; "native" is DEER's own:
thinking_end and a blank line, then the answer written freely.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from eigscale.engines.base import Completion, Engine, GenerateRequest
from eigscale.params import EXITS, ThinkingParams, param
from eigscale.records import Decision, QuestionRecord, charge
from eigscale.scalers.base import generate_or_fail
from eigscale.scalers.cuts import stop_at, uncut
from eigscale.scalers.thinking import RunContext, ThinkingScaler, Thought

DEER_TRIAL = "\n**Final Answer**\n\\boxed"


DEER_TRIAL_STOPS = " }|}\n|}\n\n|}.|}.\n|}\\|}}|)}|)}.|)}\n"


CONFIDENCES = ("mean", "geometric", "min")


@dataclass(frozen=True)
class DEERParams(ThinkingParams):
    """`deer` (DEER, Yang et al. 2025): at each "Wait" in the thinking, a greedy trial answer
    is written after the trial prompt; thinking stops when the model's confidence in it (the
    mean probability of its tokens) exceeds the threshold. The trial answer is discarded."""

    threshold: float = param(0.95, float, 0.0, 1.0)
    """Stop iff the trial answer's confidence > threshold (DEER's default 0.95)."""

    confidence: str = param("mean", str, choices=CONFIDENCES)
    """How the trial tokens' probabilities p_2..p_{n-1} (the opening "{" and the closing stop
    left out) combine: "mean" (DEER's avg1, its default for R1-style models), "geometric"
    (avg2, its Qwen3 default), "min"."""

    max_judge_steps: int = param(10, int, 0, 1000)
    """At most this many checks per question; then thinking runs on without stopping at
    transitions (DEER's default 10)."""

    transition: str = param("Wait", str)
    """The word whose every occurrence in the thinking is a check point (DEER's "Wait"; its
    other option is "Alternatively"). It is kept in the thinking when thinking goes on."""

    trial_prompt: str = param(DEER_TRIAL, str)
    """Appended to the thinking before the transition (thinking left open) to draw the trial
    answer (DEER's maths inducer; for multiple choice DEER writes "...I believe the final
    answer, rather than the option, is \\boxed")."""

    trial_tokens: int = param(20, int, 1, 512)
    """Tokens a trial answer may take (DEER's 20)."""

    trial_stops: str = param(DEER_TRIAL_STOPS, str)
    """'|'-separated strings where the boxed trial answer closes (DEER's list)."""

    exit: str = param("unified", str, choices=EXITS)
    """"unified": thinking_end + answer prompt + the forced answer, as every rule exits;
    "native": DEER's own, thinking_end + a blank line, then the answer written freely."""


def confidence(logprobs: Sequence[float], how: str) -> float:
    """The trial answer's confidence from its tokens' log-probs: the first token (the "{"
    opening the box) is left out; no token after it: 0."""
    probs = [math.exp(lp) for lp in logprobs[1:]]
    if not probs:
        return 0.0
    if how == "geometric":
        return math.exp(sum(logprobs[1:]) / len(probs))
    if how == "min":
        return min(probs)
    return sum(probs) / len(probs)


class DEER(ThinkingScaler):
    name = "deer"
    params_class = DEERParams
    label = "DEER"
    colour = "#9467bd"
    modules = ("eigscale.scalers.deer", "eigscale.scalers.thinking")
    stop_reasons = ("deer_stop",)
    replay_vary = "threshold"  # traced with the highest: every lower one stops no later
    params: DEERParams

    def round_stops(self, ctx: RunContext, thought: Thought) -> tuple[str, ...]:
        if len(thought.record.decisions) < self.params.max_judge_steps:
            return (*ctx.thinking_stops, self.params.transition)
        return ctx.thinking_stops

    def is_transition(self, ctx: RunContext, stop: Completion) -> bool:
        return self.params.transition in ctx.engine.decode(stop.stop_ids)

    def on_events(self, ctx: RunContext, thoughts: list[Thought]) -> None:
        checking = []
        for t in thoughts:
            if t.event == "end":
                t.stop("natural_end")
            elif t.event == "transition":
                checking.append(t)
        if checking:
            self._check(ctx, checking)

    def _check(self, ctx: RunContext, thoughts: list[Thought]) -> None:
        p, eng = self.params, ctx.engine
        trial = tuple(eng.encode(p.trial_prompt))
        stops = tuple(s for s in p.trial_stops.split("|") if s)
        t0, calls0 = time.perf_counter(), eng.counters.calls
        # the point before the transition word the model wrote (it ends the thinking)
        cuts = [t.transition_at for t in thoughts]
        reqs = [GenerateRequest(t.prompt + tuple(t.thinking[:cut]) + trial,
                                max_tokens=p.trial_tokens, stop=stops, token_logprobs=True)
                for t, cut in zip(thoughts, cuts, strict=True)]
        with ctx.clock.time("probe"):
            outs = generate_or_fail(eng, reqs, "the trial answers")
        seconds = {"probe": time.perf_counter() - t0}
        for t, cut, out in zip(thoughts, cuts, outs, strict=True):
            c = out.completions[0]
            conf = confidence(c.logprobs, p.confidence)
            stop = conf > p.threshold
            d = Decision(index=len(t.record.decisions), kind="step", thinking_tokens=cut,
                         candidates=[c.text], decision="stop" if stop else "continue",
                         engine_calls=eng.counters.calls - calls0,
                         tokens={"probe": len(c.token_ids), "probe_prompt": len(trial)},
                         seconds=dict(seconds),
                         scores={"trial": c.text, "confidence": conf,
                                 "logprobs": [round(x, 5) for x in c.logprobs]})
            t.record.decisions.append(d)
            t.record.add_tokens(probe=len(c.token_ids), probe_prompt=len(trial))
            charge(t.record, "probe", out)
            charge(d, "probe", out)
            if stop:
                del t.thinking[cut:]
                t.stop("deer_stop")

    def replay_cut(self, t: Thought, rec: QuestionRecord, memory: dict[str, Any]
                   ) -> tuple[int, str, int]:
        # the first check whose trial answer's confidence passes this threshold (the checks
        # sit at the same transitions whatever the threshold: one that goes on keeps the
        # transition word)
        for k, d in enumerate(rec.decisions):
            if d.scores["confidence"] > self.params.threshold:
                return stop_at(t, rec, k, "deer_stop")
        return uncut(t, rec)

    def force_answers(self, engine: Engine, thoughts: Sequence[Thought], ctx: RunContext,
                      until: Sequence[str]) -> list[str]:
        if self.params.exit == "native":  # thinking_end, a blank line, a free answer
            ctx = replace(ctx, tail=tuple(engine.encode(self.params.thinking_end + "\n\n")))
        return super().force_answers(engine, thoughts, ctx, until)
