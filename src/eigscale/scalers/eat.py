"""`eat`: stop when the entropy after the end-of-thinking marker has settled (EAT, xidulu/EAT).

Thinking runs until the model writes a paragraph break ("\\n\\n") or ends. At each break after
a non-empty paragraph, one batched call asks, per question there, for the entropy (bits) of
the next token after the thinking so far (the break left out) + `probe_suffix`: a newline,
thinking_end and a blank line, as the reference closes thinking ("\\n</think>\\n\\n"). The
engines give it over the whole vocabulary (vLLM's full log-probs, transformers' logits): the
exact value, not a top-k bound. The reference takes it from temperature-0.6 scores; this is the
raw distribution's.

The stop is the reference's (`choose_early_stop_point`): over the checks' entropies x_0, x_1,
... an exponential moving average m_i = a x_i + (1 - a) m_{i-1} (m_0 = x_0) and variance
v_i = a (x_i - m_i)^2 + (1 - a) v_{i-1} (v_0 = 0), a = `timescale`; thinking stops before the
break of the first check i >= `warmup` with v_i < `delta`. Otherwise the break stays and
thinking goes on, so the trace is the uninterrupted one (replayable over `delta`: the checks
sit at the same breaks whatever delta). Each check's one-token forward is charged as probe
tokens, on the total-compute axis.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from eigscale.engines.base import GenerateRequest
from eigscale.params import ThinkingParams, param
from eigscale.records import Decision, QuestionRecord
from eigscale.scalers.base import generate_or_fail
from eigscale.scalers.cuts import stop_at, uncut
from eigscale.scalers.thinking import RunContext, Thought, TransitionScaler

BREAK = "\n\n"


@dataclass(frozen=True)
class EATParams(ThinkingParams):
    """`eat` (EAT, entropy after </think>): at every paragraph break, the entropy of the next
    token after the thinking closed there; thinking stops when the moving variance of that
    entropy falls below delta (after a warm-up)."""

    delta: float = param(1e-3, float, 0.0, 10.0)
    """Stop at the first check past the warm-up whose moving variance (bits^2) < delta (the
    reference's illustrations: 1e-3, 2^-10; its sweeps 2^-i)."""

    timescale: float = param(0.1, float, 0.001, 1.0)
    """a, the moving average's weight of the newest check (the reference's 0.1; 0.075 in its
    MATH500 headline)."""

    warmup: int | str = param("auto", int, 0, 10_000_000, words=("auto",))
    """Checks before the rule may stop; "auto": round(4 / timescale), the reference's "typically
    4/a" (40 at a = 0.1)."""

    probe_suffix: str = param("auto", str)
    """What closes the thinking for the entropy; "auto": a newline (unless thinking_end opens
    with one), thinking_end and a blank line, as the reference's "\\n</think>\\n\\n"."""

    @property
    def warmup_checks(self) -> int:
        return round(4 / self.timescale) if self.warmup == "auto" else int(self.warmup)

    @property
    def suffix(self) -> str:
        if self.probe_suffix != "auto":
            return self.probe_suffix
        return ("" if self.thinking_end.startswith("\n") else "\n") + self.thinking_end + BREAK


def moving_stats(x: float, state: tuple[float, float] | None, a: float) -> tuple[float, float]:
    """(m_i, v_i) after the entropy x, from (m_{i-1}, v_{i-1}) (None at the first check)."""
    if state is None:
        return x, 0.0
    m, v = state
    m = a * x + (1 - a) * m
    return m, a * (x - m) ** 2 + (1 - a) * v


class EAT(TransitionScaler):
    name = "eat"
    params_class = EATParams
    label = "EAT"
    colour = "#e377c2"
    modules = ("eigscale.scalers.eat", "eigscale.scalers.thinking")
    stop_reasons = ("eat_stop",)
    replay_vary = "delta"
    replay_tracer = "smallest"  # the smallest delta stops last: every larger one no later
    params: EATParams

    marker = BREAK

    def side_bound(self, thinking: int) -> tuple[int, int]:
        # one one-token entropy request per paragraph break: at most one per two tokens
        checks = thinking // 2 + 1
        return checks, checks

    def wants_check(self, ctx: RunContext, t: Thought) -> bool:
        # a break after an empty paragraph is no line of the reference's
        since, t.memory["last"] = t.memory.get("last", 0), len(t.thinking)
        return bool(ctx.engine.decode(t.thinking[since:t.transition_at]).strip())

    def check(self, ctx: RunContext, thoughts: list[Thought]) -> None:
        p, eng = self.params, ctx.engine
        suffix = tuple(eng.encode(p.suffix))
        t0, calls0 = time.perf_counter(), eng.counters.calls
        reqs = [GenerateRequest(t.prompt + tuple(t.thinking[:t.transition_at]) + suffix,
                                max_tokens=1, entropy=True) for t in thoughts]
        with ctx.clock.time("probe"):
            outs = generate_or_fail(eng, reqs, "the entropies after the thinking")
        seconds = {"probe": time.perf_counter() - t0}
        for t, out in zip(thoughts, outs, strict=True):
            x = out.completions[0].entropy
            if x is None or not math.isfinite(x):
                raise RuntimeError(f"{eng.name} gave no entropy ({x}) for an EAT check")
            k = len(t.record.decisions)
            m, v = moving_stats(x, t.memory.get("stats"), p.timescale)
            t.memory["stats"] = (m, v)
            stop = k >= p.warmup_checks and v < p.delta
            d = Decision(index=k, kind="step", thinking_tokens=t.transition_at,
                         decision="stop" if stop else "continue",
                         engine_calls=eng.counters.calls - calls0,
                         tokens={"probe": out.decoded_tokens, "probe_prompt": len(suffix)},
                         seconds=dict(seconds),
                         scores={"entropy_bits": x, "mean": m, "variance": v})
            self.decided(t, d, out, "eat_stop")

    def replay_cut(self, t: Thought, rec: QuestionRecord, memory: dict[str, Any]
                   ) -> tuple[int, str, int]:
        # the checks and their moving variance are the same whatever delta: the first one
        # past the warm-up whose variance is below this delta
        for k, d in enumerate(rec.decisions):
            if k >= self.params.warmup_checks and d.scores["variance"] < self.params.delta:
                return stop_at(t, rec, k, "eat_stop")
        return uncut(t, rec)
