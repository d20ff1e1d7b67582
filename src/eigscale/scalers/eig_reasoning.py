"""`expected_information_gain_reasoning`: think while it is expected to pay.

Decision points: every `step_tokens` thinking tokens (stop early iff EIG <= lambda_cost) and at
every natural end of thinking (extend iff EIG > lambda_cost, with a continuation prompt chosen
by the size of the gain). A decision round, for all questions deciding at once, is two engine
calls:

1. one `generate` with, per question, beam_size candidate answers (from x_t + thinking_end +
   answer prompt) and mc_samples continuations y_j of sample_length tokens (from x_t);
2. one `score` of every candidate after x_t and after each x_t + y_j (teacher-forced, the
   shared prefixes served from the KV cache).

At a natural end the forecast continues from x_t plus the mildest continuation prompt: what an
extension would look like, since from x_t itself the model would only end again.

Candidates are canonical answers (see `eigscale.answers`), scored as " " + answer + EOS after
the answer prompt: the EOS makes "4" and "42" distinct events rather than prefix and extension.
They persist across a question's decisions (union, capped at beam_size by posterior).

Any failure inside a decision (engine error, non-finite scores, no candidate, over time) stops
that question's thinking; its answer is forced like any other, and the failure is recorded.

Time limit: the questions deciding together share one round, so each is charged an equal
share of the round's wall time; a round with k questions may take k * max_computation_time.
When sampling alone has used that up, the forecasts are not scored: those questions fail as
`time_exceeded` and stop. When scoring ends past it, the decisions were computed: they stand
(continue or stop by their EIG) and the overrun is recorded (`Decision.over_time`, counted
in the summary), as the seed's "use what was computed" asks.

A question whose decision requests cannot fit the model's context (its prefix + a forecast +
the answer prompt + a candidate) fails as `context_overflow` before the batched call, alone.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from eigscale.answers import extract_answer
from eigscale.eig import NonFiniteScores, expected_information_gain, posterior
from eigscale.engines.base import GenerateRequest, GenerateResult, ScoreRequest, ScoreResult
from eigscale.params import EIGParams
from eigscale.records import Decision
from eigscale.scalers.base import derive_seed
from eigscale.scalers.thinking import RunContext, ThinkingScaler, Thought

log = logging.getLogger("eigscale.eig")


class _Pending:
    """One question's part of a decision round."""

    def __init__(self, t: Thought, decision: Decision, now: tuple[int, ...],
                 forecast_from: tuple[int, ...]) -> None:
        self.t, self.d = t, decision
        self.now, self.forecast_from = now, forecast_from
        self.candidates: list[str] = []
        self.mc: list[tuple[int, ...]] = []
        self.score_slice = slice(0, 0)

    def fail(self, kind: str, message: str) -> None:
        self.d.failure, self.d.failure_message, self.d.decision = kind, message, "stop"


class EIGReasoning(ThinkingScaler):
    name = "expected_information_gain_reasoning"
    params_class = EIGParams
    params: EIGParams

    def step_limit(self, thought: Thought, remaining: int) -> int:
        step = self.params.step_tokens
        return min(step, remaining) if step > 0 else remaining

    def on_events(self, ctx: RunContext, thoughts: list[Thought]) -> None:
        deciding = []
        for t in thoughts:
            if t.event == "end" and t.record.extensions >= self.params.max_extensions:
                t.stop("natural_end")
            else:
                deciding.append(t)
        if deciding:
            self._decide(ctx, deciding)

    # -- one decision round ---------------------------------------------------------------
    def _decide(self, ctx: RunContext, thoughts: list[Thought]) -> None:
        p, eng = self.params, ctx.engine
        mild = tuple(eng.encode(p.continuations[-1][1]))
        round_t0 = time.perf_counter()
        calls0 = eng.counters.calls
        pend = []
        for t in thoughts:
            x_t = t.prompt + tuple(t.thinking)
            d = Decision(index=len(t.record.decisions), kind=t.event,
                         thinking_tokens=len(t.thinking))
            pend.append(_Pending(t, d, x_t, x_t + mild if t.event == "end" else x_t))

        seconds: dict[str, float] = {}
        allowed = p.max_computation_time * len(pend)
        self._check_fits(ctx, pend)
        samples = self._sample(ctx, pend, seconds)
        if samples is not None:
            self._collect_samples(pend, samples)
            self._check_time(pend, seconds["sample"], allowed, "sampling")
            scores = self._score(ctx, pend, seconds)
            if scores is not None:
                for q in pend:
                    if not q.d.failure:
                        self._apply_eig(q, [s.logprob for s in scores[q.score_slice]])
                        part = scores[q.score_slice]
                        q.d.tokens["score_prompt"] = sum(s.prompt_tokens for s in part)
                        q.d.tokens["score_cached"] = sum(s.cached_tokens for s in part)
                        q.t.record.add_tokens(score_prompt=q.d.tokens["score_prompt"],
                                              score_cached=q.d.tokens["score_cached"])
        seconds["total"] = time.perf_counter() - round_t0
        for q in pend:
            if seconds["total"] > allowed and not q.d.failure:
                q.d.over_time = seconds["total"] - allowed
        for q in pend:
            q.d.seconds = dict(seconds)
            q.d.engine_calls = eng.counters.calls - calls0
            self._act(ctx, q)

    @staticmethod
    def _check_time(pend: list[_Pending], used: float, allowed: float, what: str) -> None:
        """Fail the questions whose forecasts cannot be scored in time."""
        if used <= allowed:
            return
        for q in pend:
            if not q.d.failure:
                q.fail("time_exceeded", f"{what} took {used:.1f} s for {len(pend)} question(s);"
                       f" max_computation_time allows {allowed:.1f} s: the forecasts were not "
                       "scored")

    def _check_fits(self, ctx: RunContext, pend: list[_Pending]) -> None:
        """Fail, alone, a question whose longest decision request would not fit the context
        (a request that cannot succeed must not fail the batched call of the whole round)."""
        p, limit = self.params, ctx.engine.max_model_len
        for q in pend:
            longest = max(len(q.now), len(q.forecast_from) + p.sample_length) + len(ctx.tail) \
                + p.max_answer_tokens + 1
            if longest > limit:
                q.fail("context_overflow", f"a decision at {len(q.t.thinking)} thinking tokens "
                       f"needs {longest} tokens of context; max_model_len is {limit}")

    def _sample(self, ctx: RunContext, pend: list[_Pending],
                seconds: dict[str, float]) -> list[GenerateResult] | None:
        p = self.params
        reqs = []
        pend = [q for q in pend if not q.d.failure]
        if not pend:
            return None
        for q in pend:
            uid, k = q.t.record.uid, q.d.index
            reqs.append(GenerateRequest(q.now + ctx.tail, max_tokens=p.max_answer_tokens,
                                        n=p.beam_size, temperature=p.temperature, top_p=p.top_p,
                                        seed=derive_seed(p.seed, uid, k, "candidates")))
            reqs.append(GenerateRequest(q.forecast_from, max_tokens=p.sample_length,
                                        n=p.mc_samples, temperature=p.temperature,
                                        top_p=p.top_p, seed=derive_seed(p.seed, uid, k, "mc"),
                                        stop=ctx.thinking_stops))
        t0 = time.perf_counter()
        try:
            with ctx.clock.time("sample"):
                return ctx.engine.generate(reqs)
        except Exception as e:  # the whole batched call failed: every question in it
            for q in pend:
                q.fail("engine_error", f"generate: {type(e).__name__}: {e}")
            return None
        finally:
            seconds["sample"] = time.perf_counter() - t0

    def _collect_samples(self, pend: list[_Pending], samples: list[GenerateResult]) -> None:
        """samples: two results (candidates, forecasts) per question that was sampled."""
        for i, q in enumerate(q for q in pend if not q.d.failure):
            cands, mc = samples[2 * i], samples[2 * i + 1]
            q.d.tokens["candidate"] = sum(len(c.token_ids) for c in cands.completions)
            q.d.tokens["mc"] = sum(len(c.token_ids) for c in mc.completions)
            q.t.record.add_tokens(candidate=q.d.tokens["candidate"], mc=q.d.tokens["mc"])
            # persistent candidates first (they keep their order), then new ones
            union = list(self._known(q.t))
            for c in cands.completions:
                a = extract_answer(c.text)
                if a and a not in union:
                    union.append(a)
            q.candidates = union
            q.mc = [c.token_ids for c in mc.completions]
            if not union:
                q.fail("empty_candidates", "no candidate answer could be extracted")

    def _score(self, ctx: RunContext, pend: list[_Pending],
               seconds: dict[str, float]) -> list[ScoreResult] | None:
        eng = ctx.engine
        eos = eng.tokenizer.eos_token_id
        reqs: list[ScoreRequest] = []
        for q in pend:
            if q.d.failure:
                continue
            suffixes = [(*eng.encode(" " + c), eos) for c in q.candidates]
            start = len(reqs)
            contexts = [q.now] + [q.forecast_from + y for y in q.mc]
            for c in contexts:
                reqs += [ScoreRequest(c + ctx.tail, s) for s in suffixes]
            q.score_slice = slice(start, len(reqs))
        if not reqs:
            return []
        t0 = time.perf_counter()
        try:
            with ctx.clock.time("score"):
                return eng.score(reqs)
        except Exception as e:
            for q in pend:
                if not q.d.failure:
                    q.fail("engine_error", f"score: {type(e).__name__}: {e}")
            return None
        finally:
            seconds["score"] = time.perf_counter() - t0

    def _apply_eig(self, q: _Pending, flat: list[float]) -> None:
        n = len(q.candidates)
        grid = np.asarray(flat, dtype=np.float64).reshape(-1, n)  # [1 + M, |union|]
        try:
            # cap the union at beam_size by the posterior now, most probable first
            order = np.argsort(-posterior(grid[0]), kind="stable")[: self.params.beam_size]
            res = expected_information_gain(grid[0, order], grid[1:, order])
            if not np.isfinite([res.entropy, res.expected_next_entropy]).all():
                raise NonFiniteScores(f"entropies {res.entropy}, {res.expected_next_entropy}")
        except NonFiniteScores as e:
            q.fail("nonfinite_scores", str(e))
            return
        q.candidates = [q.candidates[i] for i in order]
        q.d.candidates = list(q.candidates)
        q.d.posterior = [float(x) for x in res.posterior]
        q.d.entropy, q.d.expected_next_entropy = res.entropy, res.expected_next_entropy
        q.d.eig = res.eig
        go_on = res.should_continue(self.params.lambda_cost)
        q.d.decision = ("extend" if q.d.kind == "end" else "continue") if go_on else "stop"

    @staticmethod
    def _known(t: Thought) -> list[str]:
        for d in reversed(t.record.decisions):
            if d.candidates:
                return d.candidates
        return []

    def _act(self, ctx: RunContext, q: _Pending) -> None:
        t, d = q.t, q.d
        t.record.decisions.append(d)
        if d.failure:
            t.record.failure = d.failure
            t.stop("failure")
        elif d.decision == "stop":
            t.stop("eig_stop" if d.kind == "step" else "natural_end")
        elif d.decision == "extend":
            d.continuation = next((text for g, text in self.params.continuations
                                   if d.eig is not None and d.eig >= g),
                                  self.params.continuations[-1][1])
            if self.append(ctx, t, d.continuation):
                t.record.extensions += 1
        if self.params.debug:
            log.info("q%d decision %d (%s) at %d tokens: H=%s E[H']=%s EIG=%s -> %s%s",
                     t.record.index, d.index, d.kind, d.thinking_tokens, _f(d.entropy),
                     _f(d.expected_next_entropy), _f(d.eig), d.decision,
                     f" [{d.failure}: {d.failure_message}]" if d.failure else "")


def _f(x: float | None) -> str:
    return "-" if x is None else f"{x:.4f}"
