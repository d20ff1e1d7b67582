"""`deer`: stop at a reasoning transition when a trial answer is confident (DEER, Yang et al.).

Thinking runs until the model writes the transition word ("Wait") or ends. At each such point
(at most `max_judge_steps` per question) one batched call writes, per question there, a greedy
trial answer: the thinking before the transition (left open) + the trial prompt (DEER's
maths inducer, or for a multiple-choice task its GPQA one), at most `trial_tokens` tokens, cut
where the boxed answer closes. Its confidence is the mean (or geometric mean, or minimum)
probability of its tokens after the first (the "{" after \\boxed), the tokens that closed it
included, as DEER's vLLM script computes it (`with_closing`; its transformers
implementation leaves them out); an empty trial answer has confidence 0. Confidence >
threshold: thinking stops before the transition. Otherwise the trial answer is discarded and
thinking goes on with the transition word the model wrote, so the trace is the uninterrupted
greedy one (replayable).

The trial answers are greedy (DEER's vLLM script samples them at temperature 1; its reference
implementation is greedy): deterministic, so a replay sees the same. Trial tokens are counted
as probe tokens, on the total-compute axis.

Exit: "unified" (the default) forces the answer like every rule; "native" is DEER's own: a
newline, thinking_end and a blank line, then the answer written freely.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from eigscale.engines.base import Engine, GenerateRequest
from eigscale.params import ANSWER_KINDS, EXITS, ThinkingParams, param
from eigscale.records import Decision, QuestionRecord
from eigscale.scalers.base import generate_or_fail
from eigscale.scalers.cuts import stop_at, uncut
from eigscale.scalers.thinking import RunContext, Thought, TransitionScaler

DEER_TRIAL = "\n**Final Answer**\n\\boxed"
# DEER's inducer for multiple choice (its vLLM script's GPQA prompt)
DEER_TRIAL_CHOICE = ("\n**Final Answer**\nI believe the final answer, rather than the option, "
                     "is \\boxed")


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
    """How the trial tokens' probabilities p_2..p_n (the opening "{" left out) combine:
    "mean" (DEER's avg1, its default for R1-style models), "geometric" (avg2, its Qwen3
    default), "min"."""

    with_closing: bool = param(True, bool)
    """Count the tokens that closed the trial answer (its stop string's, or EOS) in the
    confidence, as DEER's vLLM script does (their probability is near 1: a one-token answer
    at 0.92 closed at 1.0 has confidence 0.96); False: leave them out, as its transformers
    implementation does (stricter at the same threshold)."""

    max_judge_steps: int = param(10, int, 0, 1000)
    """At most this many checks per question; then thinking runs on without stopping at
    transitions (DEER's default 10)."""

    transition: str = param("Wait", str)
    """The word whose every occurrence in the thinking is a check point (DEER's "Wait"; its
    other option is "Alternatively"). It is kept in the thinking when thinking goes on."""

    trial_prompt: str = param("auto", str)
    """Appended to the thinking before the transition (thinking left open) to draw the trial
    answer. "auto": DEER's own by the task's answer kind, its GPQA inducer ("...I believe the
    final answer, rather than the option, is \\boxed") for multiple choice, its maths one
    ("\\n**Final Answer**\\n\\boxed") otherwise."""

    answer_kind: str = param("text", str, choices=ANSWER_KINDS)
    """The task's answer kind (set from the task by the lm-eval layer): picks the "auto"
    trial prompt."""

    trial_tokens: int = param(20, int, 1, 512)
    """Tokens a trial answer may take (DEER's 20)."""

    trial_stops: str = param(DEER_TRIAL_STOPS, str)
    """'|'-separated strings where the boxed trial answer closes (DEER's list)."""

    exit: str = param("unified", str, choices=EXITS)
    """"unified": thinking_end + answer prompt + the forced answer, as every rule exits;
    "native": DEER's own, a newline, thinking_end and a blank line, then the answer written
    freely."""

    @property
    def trial(self) -> str:
        """The trial prompt this run writes."""
        if self.trial_prompt != "auto":
            return self.trial_prompt
        return DEER_TRIAL_CHOICE if self.answer_kind == "choice" else DEER_TRIAL


def confidence(logprobs: Sequence[float], how: str, closing: Sequence[float] = ()) -> float:
    """The trial answer's confidence from its tokens' log-probs and (appended) those of the
    tokens that closed it: the first token (the "{" opening the box) is left out; no token
    after it: 0."""
    lps = [*logprobs, *closing][1:]
    if not lps:
        return 0.0
    if how == "geometric":
        return math.exp(sum(lps) / len(lps))
    if how == "min":
        return math.exp(min(lps))
    return sum(math.exp(lp) for lp in lps) / len(lps)


class DEER(TransitionScaler):
    name = "deer"
    params_class = DEERParams
    label = "DEER"
    colour = "#9467bd"
    modules = ("eigscale.scalers.deer", "eigscale.scalers.thinking")
    stop_reasons = ("deer_stop",)
    replay_vary = "threshold"  # traced with the highest: every lower one stops no later
    params: DEERParams

    def side_bound(self, thinking: int) -> tuple[int, int]:
        trials = self.params.max_judge_steps  # a trial answer at each transition, at most
        return trials, trials * self.params.trial_tokens  # its closing stop included

    @property
    def marker(self) -> str:
        return self.params.transition

    def checks_left(self, thought: Thought) -> bool:
        return len(thought.record.decisions) < self.params.max_judge_steps

    def check(self, ctx: RunContext, thoughts: list[Thought]) -> None:
        p, eng = self.params, ctx.engine
        trial = tuple(eng.encode(p.trial))
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
            conf = confidence(c.logprobs, p.confidence,
                              c.stop_logprobs if p.with_closing else ())
            stop = conf > p.threshold
            d = Decision(index=len(t.record.decisions), kind="step", thinking_tokens=cut,
                         candidates=[c.text], decision="stop" if stop else "continue",
                         engine_calls=eng.counters.calls - calls0,
                         tokens={"probe": len(c.token_ids), "probe_prompt": len(trial)},
                         seconds=dict(seconds),
                         scores={"trial": c.text, "confidence": conf,
                                 "logprobs": [round(x, 5) for x in c.logprobs],
                                 "closing_logprobs": [round(x, 5) for x in c.stop_logprobs]})
            self.decided(t, d, out, "deer_stop")

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
        if self.params.exit == "native":  # as DEER: "\n" + thinking_end + "\n\n", a free answer
            tail = tuple(engine.encode("\n" + self.params.thinking_end + "\n\n"))
            ctx = replace(ctx, tail=tail, line_tail=tail)
        return super().force_answers(engine, thoughts, ctx, until)
