"""Rules that decide on the model's answer posterior at checkpoints: the shared machinery.

Decision points: every `step_tokens` thinking tokens (stop early) and at every natural end of
thinking (extend, with a continuation prompt chosen by the size of the rule's score). At each,
the candidate answers after x_t + thinking_end + answer prompt give the classes (`answer_kind`:
what the task's grader calls equal) and the posterior p_t over them (see eigscale.eig for the
two estimators). A subclass decides from the posteriors now and after `forecasts()` MC
continuations: EIG (eigscale.scalers.eig_reasoning) from the expected drop of the entropy,
the answer-entropy threshold (eigscale.scalers.answer_entropy) from its level, with no
forecasts. A decision round, for all questions deciding at once, is at most two engine calls:

1. one `generate` with, per question, beam_size candidate answers (from x_t + thinking_end +
   answer prompt, at candidate_top_p) and, if the rule forecasts, mc_samples continuations y_j
   of sample_length tokens (from x_t);
2. "sampled": one `generate` of beam_size answers after each x_t + y_j + the answer prompt
   (one request per context, the prefix shared); "scored": one `score` of every known surface
   form after x_t and after each x_t + y_j (the shared prefixes served from the KV cache).

At a natural end the forecast continues from x_t plus the mildest continuation prompt: what an
extension would look like, since from x_t itself the model would only end again.

Classes persist across a question's decisions (the union, capped at beam_size by the
posterior now; the scored estimator keeps the beam_size most probable surface forms).

Any failure inside a decision (engine error, non-finite scores, no candidate, over time) stops
that question's thinking; its answer is forced like any other, and the failure is recorded.

Time limit: the questions deciding together share one round, so each is charged an equal
share of the round's wall time; a round with k questions may take k * max_computation_time.
When sampling alone has used that up, the forecasts are not scored: those questions fail as
`time_exceeded` and stop. When scoring ends past it, the decisions were computed: they stand
(continue or stop by their score) and the overrun is recorded (`Decision.over_time`, counted
in the summary), as the seed's "use what was computed" asks.

A question whose decision requests cannot fit the model's context (its prefix + a forecast +
the answer prompt + a candidate) fails as `context_overflow` before the batched call, alone.
"""

from __future__ import annotations

import logging
import time
from abc import abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np

from eigscale.eig import (
    NonFiniteScores,
    counts_entropy,
    entropy,
    pooled_posterior,
    score_standard_error,
)
from eigscale.engines.base import GenerateRequest, GenerateResult, ScoreRequest, ScoreResult
from eigscale.errors import ParamError
from eigscale.grading import Response, answer_class, class_index
from eigscale.params import ANSWER_KINDS, ThinkingParams, param
from eigscale.records import Decision, FailureKind, QuestionRecord, StopReason, charge
from eigscale.scalers.base import derive_seed
from eigscale.scalers.cuts import stop_at, uncut
from eigscale.scalers.thinking import RunContext, ThinkingScaler, Thought

POSTERIOR_ESTIMATORS = ("sampled", "scored")
# max_answer_tokens "auto": each candidate's room by the answer kind. Measured on the default
# task (SmolLM2-135M, 288 candidates at 32-96 thinking tokens, room 256): half end within 39
# tokens, 37% run past 64 and 15% past 256 (it writes on after the answer); a reasoning model
# writes its box after "Final Answer:" sooner. Maths gets room for an expression.
ANSWER_ROOM = {"integer": 64, "choice": 64, "math": 128, "text": 64}
DECISION_MODES = ("point", "interval")


DEFAULT_CONTINUATIONS = (
    "0.5:Wait. Let me check this again carefully.|0.1:Wait. Let me verify.|0:Wait"
)


def parse_continuations(spec: str) -> tuple[tuple[float, str], ...]:
    """"g1:text1|g2:text2|..." -> ((g1, text1), ...) sorted by threshold, highest first.

    At a natural end of thinking that the rule extends (EIG > lambda_cost), the first prompt whose
    threshold is <= EIG is appended: a larger expected gain earns a more searching prompt.
    """
    out = []
    for part in spec.split("|"):
        gain, sep, text = part.partition(":")
        try:
            threshold = float(gain)
        except ValueError:
            threshold = None
        if not sep or threshold is None or not text:
            raise ParamError(f"continuation_prompts: entry {part!r} is not 'threshold:text' "
                             f"(e.g. {DEFAULT_CONTINUATIONS!r})",
                             param="continuation_prompts", value=spec)
        out.append((threshold, text))
    return tuple(sorted(out, key=lambda t: -t[0]))


@dataclass(frozen=True)
class CheckpointParams(ThinkingParams):
    """What the rules that decide on the model's answer posterior at checkpoints share (EIG
    and the answer-entropy threshold): where they decide, how the candidate answers are drawn
    and classed, what extends a natural end, how long a decision may take."""

    beam_size: int = param(8, int, 1, 20)
    """Candidate answers drawn per decision (n of one batched call); |C| <= beam_size."""

    temperature: float = param(1.0, float, 0.1, 2.0)
    """Sampling temperature of candidates and MC continuations only; the main reasoning decodes
    like the baseline."""

    max_computation_time: float = param(30.0, float, 1.0, 300.0)
    """Seconds one decision may take (questions deciding together share their round's time
    equally). If sampling alone uses it up, the forecasts are not scored: the question stops
    thinking, its answer is forced and failure `time_exceeded` is recorded. A decision computed
    in full but late stands, and its overrun is recorded (`over_time`)."""

    step_tokens: int = param(256, int, 0, 1_000_000)
    """Thinking tokens between early-stop decisions; 0 = decide only at natural ends
    (extend-only)."""

    continuation_prompts: str = param(DEFAULT_CONTINUATIONS, str)
    """'threshold:text|...': the prompt that extends thinking, chosen by the size of the
    rule's score (EIG: the gain; answer entropy: the entropy)."""

    max_extensions: int = param(8, int, 0, 1000)
    """At most this many extensions of a natural end of thinking per question."""

    answer_kind: str = param("text", str, choices=ANSWER_KINDS)
    """The answer equivalence the entropy is over, the task's grader's: "integer" (the
    number), "math" (math-verify), "choice" (the letter), "text" (the canonical answer text).
    eigscale-eval sets it from the task; candidates the grader calls equal are one class."""

    posterior_estimator: str = param("sampled", str, choices=POSTERIOR_ESTIMATORS)
    """How p(class) is estimated in each context: "sampled" (beam_size answers drawn there,
    class frequencies, Miller-Madow corrected) or "scored" (the answers the model wrote,
    teacher-forced, pooled by class, plus the uncovered mass as "other"). See eigscale.eig."""

    candidate_top_p: float = param(1.0, float, 0.1, 1.0)
    """Nucleus sampling of the candidate answers: 1, the model's own distribution (a truncated
    one would make every draw agree and the entropy 0 more often than the model is sure)."""

    decision_mode: str = param("point", str, choices=DECISION_MODES)
    """How a decision reads its score: "point", the specification's rule (continue iff the
    score > the threshold), or "interval" (continue iff the score minus decision_z standard
    errors > the threshold: a continue needs evidence). bench/decision_modes.py measures both
    against the true EIG."""

    decision_z: float = param(1.0, float, 0.0, 5.0)
    """Standard errors an "interval" decision subtracts from its score."""

    min_gradable: int = param(2, int, 1, 20)
    """Least gradable answers a context needs (at most beam_size): answers the grader cannot
    read, or cut at max_answer_tokens, are no class and are left out. With fewer now (or in
    every forecast) the decision has no estimate and thinking goes on, within the budget."""

    def __post_init__(self) -> None:
        super().__post_init__()
        parse_continuations(self.continuation_prompts)  # malformed -> ParamError now, not mid-run

    @property
    def continuations(self) -> tuple[tuple[float, str], ...]:
        return parse_continuations(self.continuation_prompts)


log = logging.getLogger("eigscale.posterior")


class Pending:
    """One question's part of a decision round."""

    def __init__(self, t: Thought, decision: Decision, now: tuple[int, ...],
                 forecast_from: tuple[int, ...]) -> None:
        self.thought, self.decision = t, decision
        self.now, self.forecast_from = now, forecast_from
        # per context: each answer's tokens, its class (None: nothing gradable) and whether it
        # was cut at max_answer_tokens
        self.answers: list[list[tuple[tuple[int, ...], str | None, bool]]] = []
        self.unestimated = False  # scored: too few gradable candidates to score
        self.mc: list[tuple[int, ...]] = []
        self.result_slice = slice(0, 0)
        # scored estimator: the classes and surface forms (token ids -> class) being scored
        self.classes: list[str | None] = []
        self.forms: dict[tuple[int, ...], int] = {}

    def charge(self, kind: str, result: GenerateResult | ScoreResult) -> None:
        """Charge an engine request made for this decision to it and to its question."""
        charge(self.decision, kind, result)
        charge(self.thought.record, kind, result)

    def fail(self, kind: FailureKind, message: str) -> None:
        d = self.decision
        d.failure, d.failure_message, d.decision = kind, message, "stop"


class PosteriorScaler(ThinkingScaler):
    """Decides at checkpoints from the answer posterior now and after `forecasts()` MC
    continuations; a subclass gives the verdict (`judge`) and the score that picks an
    extension's prompt (`score_of`)."""

    params: CheckpointParams

    @property
    def early_stop(self) -> StopReason:
        """The stop reason of a decision that ends thinking at a step: the rule's own."""
        return self.stop_reasons[0]

    def forecasts(self) -> int:
        """MC continuations drawn per decision (0: the posterior now is all the rule reads)."""
        return 0

    def forecast_request(self, ctx: RunContext, q: Pending) -> GenerateRequest:
        """The request for q's forecasts (used only if forecasts() > 0)."""
        raise NotImplementedError

    def forecast_length(self) -> int:
        """Tokens per forecast (used only if forecasts() > 0)."""
        return 0

    @abstractmethod
    def judge(self, d: Decision, p_now: np.ndarray, h: np.ndarray) -> bool:
        """Fill d's entropies and score from the posterior now (p_now) and the entropies of
        every context (h[0] now, then one per forecast); `goes_on(d)`. May raise
        NonFiniteScores."""

    def goes_on(self, d: Decision) -> bool:
        """Keep thinking after this decision? A decision without an estimate goes on; else iff
        the rule's score, less the decision mode's margin (0 for "point", decision_z standard
        errors for "interval"), exceeds its threshold. (A replay applies it to another run's
        decisions.)"""
        if d.unestimated:
            return True
        score = self.score_of(d)
        if score is None:
            return False
        interval = self.params.decision_mode == "interval" and d.se is not None
        return score - (self.params.decision_z * d.se if interval else 0.0) > self.threshold

    @property
    @abstractmethod
    def threshold(self) -> float:
        """The rule's threshold: thinking goes on while its score exceeds it."""

    @abstractmethod
    def score_of(self, d: Decision) -> float | None:
        """The rule's score of a decision whose numbers are filled in (None: not computed);
        it also chooses an extension's continuation prompt."""

    # a sweep is traced with the smallest threshold, which goes on at every decision a larger
    # one goes on at; the continuation prompt of an extension depends on the score alone, not
    # on the threshold, so extensions replay too
    replay_tracer = "smallest"

    def replay_cut(self, t: Thought, rec: QuestionRecord, memory: dict[str, Any]
                   ) -> tuple[int, str, int]:
        # the first recorded decision this rule's own verdict stops on (the decisions before
        # it are the trace's own: same prefix, same seeds, same persistent candidates)
        for k, d in enumerate(rec.decisions):
            if d.failure is None and self.goes_on(d):
                continue
            return stop_at(t, rec, k, self.early_stop)
        return uncut(t, rec)

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
            pend.append(Pending(t, d, x_t, x_t + mild if t.event == "end" else x_t))

        seconds: dict[str, float] = {}
        allowed = p.max_computation_time * len(pend)
        self._check_fits(ctx, pend)
        samples = self._sample(ctx, pend, seconds)
        if samples is not None:
            self._collect_samples(ctx, pend, samples)
            self._check_time(pend, seconds["sample"], allowed, "sampling")
            if p.posterior_estimator == "scored":
                scores = self._score(ctx, pend, seconds)
                for q in pend if scores is not None else ():
                    if q.unestimated and not q.decision.failure:
                        self._no_estimate(q, q.classes)
                    elif not q.decision.failure:
                        self._apply_scored(q, scores[q.result_slice])
            else:
                answers = self._sample_answers(ctx, pend, seconds)
                for q in pend if answers is not None else ():
                    if not q.decision.failure:
                        self._apply_sampled(ctx, q, answers[q.result_slice])
        seconds["total"] = time.perf_counter() - round_t0
        for q in pend:
            if seconds["total"] > allowed and not q.decision.failure:
                q.decision.over_time = seconds["total"] - allowed
        for q in pend:
            q.decision.seconds = dict(seconds)
            q.decision.engine_calls = eng.counters.calls - calls0
            self._act(ctx, q)

    @staticmethod
    def _check_time(pend: list[Pending], used: float, allowed: float, what: str) -> None:
        """Fail the questions whose forecasts cannot be scored in time."""
        if used <= allowed:
            return
        for q in pend:
            if not q.decision.failure:
                q.fail("time_exceeded", f"{what} took {used:.1f} s for {len(pend)} question(s);"
                       f" max_computation_time allows {allowed:.1f} s: the forecasts were not "
                       "scored")

    def _check_fits(self, ctx: RunContext, pend: list[Pending]) -> None:
        """Fail, alone, a question whose longest decision request would not fit the context
        (a request that cannot succeed must not fail the batched call of the whole round)."""
        limit = ctx.engine.max_model_len
        for q in pend:
            forecast = len(q.forecast_from) + self.forecast_length() if self.forecasts() else 0
            longest = max(len(q.now), forecast) + len(ctx.tail) + self.answer_room + 1
            if longest > limit:
                q.fail("context_overflow", f"a decision at {len(q.thought.thinking)} thinking "
                       "tokens "
                       f"needs {longest} tokens of context; max_model_len is {limit}")

    def _sample(self, ctx: RunContext, pend: list[Pending],
                seconds: dict[str, float]) -> list[GenerateResult] | None:
        p = self.params
        reqs = []
        pend = [q for q in pend if not q.decision.failure]
        if not pend:
            return None
        for q in pend:
            uid, k = q.thought.record.uid, q.decision.index
            reqs.append(GenerateRequest(q.now + ctx.tail, max_tokens=self.answer_room,
                                        n=p.beam_size, temperature=p.temperature,
                                        top_p=p.candidate_top_p,
                                        seed=derive_seed(p.seed, uid, k, "candidates"),
                                        score_later=p.posterior_estimator == "scored"))
            if self.forecasts():
                reqs.append(self.forecast_request(ctx, q))
        return self._call(ctx, pend, seconds, "sample", reqs)

    @staticmethod
    def _call(ctx: RunContext, pend: list[Pending], seconds: dict[str, float], phase: str,
              reqs: list) -> list | None:
        """One batched engine call of a decision round; a failure fails every question in it
        (it is the round's, not one question's)."""
        if not reqs:
            return []
        method = ctx.engine.score if phase == "score" else ctx.engine.generate
        t0 = time.perf_counter()
        try:
            with ctx.clock.time(phase):
                return method(reqs)
        except Exception as e:
            for q in pend:
                if not q.decision.failure:
                    q.fail("engine_error", f"{method.__name__}: {type(e).__name__}: {e}")
            return None
        finally:
            seconds[phase] = time.perf_counter() - t0

    def _answers_of(self, ctx: RunContext, result: GenerateResult
                    ) -> list[tuple[tuple[int, ...], str | None, bool]]:
        """Each sampled answer as the model wrote it (its tokens, with the EOS it ended on),
        its class (None: nothing gradable) and whether max_answer_tokens cut it. The class is
        what the task's grader reads in exactly what it would see: the exit (thinking_end and
        the answer prompt) followed by the answer. A cut answer is no class: its end is
        missing ("... we multiply by 2 to get" is not the answer 2)."""
        p, eng = self.params, ctx.engine
        out = []
        for c in result.completions:
            cut = c.finish_reason == "length"
            key = None if cut else answer_class(
                Response(eng.decode(ctx.tail + tuple(c.token_ids)), p.thinking_end,
                         p.answer_prompt), p.answer_kind)
            out.append((c.token_ids + tuple(i for i in c.stop_ids if i in eng.eos_token_ids),
                        key, cut))
        return out

    def _tally(self, d: Decision, answers: list[list[tuple[tuple[int, ...], str | None, bool]]]
               ) -> None:
        """Record, per context, how many answers were gradable, unparsed and cut."""
        d.gradable = [sum(key is not None for _, key, _ in a) for a in answers]
        d.truncated = [sum(cut for _, _, cut in a) for a in answers]
        d.unparsed = [len(a) - g - t for a, g, t in zip(answers, d.gradable, d.truncated,
                                                         strict=True)]

    def _no_estimate(self, q: Pending, classes: list[str]) -> None:
        """Too few gradable answers to estimate anything: thinking goes on (extends at a
        natural end, with the mildest continuation), within the budget, for every rule."""
        d = q.decision
        d.unestimated, d.estimator = True, self.params.posterior_estimator
        d.candidates = [str(c) for c in classes]
        d.decision = "extend" if d.kind == "end" else "continue"

    def side_bound(self, thinking: int) -> tuple[int, int]:
        # a decision every step_tokens and at each natural end (the first and max_extensions
        # more); each: beam_size candidates now, and per forecast its continuation and
        # beam_size candidates after it
        p = self.params
        decisions = (thinking // p.step_tokens if p.step_tokens else 0) + p.max_extensions + 1
        f = self.forecasts()
        requests = 1 + (1 + f if f else 0)
        tokens = p.beam_size * self.answer_room + f * self.forecast_length() \
            + f * p.beam_size * self.answer_room
        return decisions * requests, decisions * tokens

    @property
    def answer_room(self) -> int:
        """Tokens each candidate answer may take (max_answer_tokens, or the kind's room)."""
        room = self.params.max_answer_tokens
        return int(room) if room != "auto" else ANSWER_ROOM[self.params.answer_kind]

    @property
    def need(self) -> int:
        """Gradable answers a context needs to count."""
        return min(self.params.min_gradable, self.params.beam_size)

    def _collect_samples(self, ctx: RunContext, pend: list[Pending],
                         samples: list[GenerateResult]) -> None:
        """samples: per question that was sampled, its candidates and (if the rule forecasts)
        its forecasts."""
        per = 2 if self.forecasts() else 1
        for i, q in enumerate(q for q in pend if not q.decision.failure):
            cands = samples[per * i]
            mc = samples[per * i + 1].completions if self.forecasts() else ()
            q.charge("candidate", cands)
            if self.forecasts():
                q.charge("mc", samples[per * i + 1])
            q.decision.tokens["candidate"] = sum(len(c.token_ids) for c in cands.completions)
            q.decision.tokens["mc"] = sum(len(c.token_ids) for c in mc)
            q.thought.record.add_tokens(candidate=q.decision.tokens["candidate"],
                                        mc=q.decision.tokens["mc"])
            q.answers = [self._answers_of(ctx, cands)]
            q.mc = [c.token_ids for c in mc]

    def _class_index(self, classes: list[str], key: str) -> int:
        return class_index(classes, key, self.params.answer_kind)

    # -- sampled estimator ----------------------------------------------------------------
    def _sample_answers(self, ctx: RunContext, pend: list[Pending],
                        seconds: dict[str, float]) -> list[GenerateResult] | None:
        p, reqs = self.params, []
        for q in pend:
            if q.decision.failure:
                continue
            start = len(reqs)
            for j, y in enumerate(q.mc):
                reqs.append(GenerateRequest(
                    q.forecast_from + y + ctx.tail, max_tokens=self.answer_room,
                    n=p.beam_size, temperature=p.temperature, top_p=p.candidate_top_p,
                    seed=derive_seed(p.seed, q.thought.record.uid, q.decision.index,
                                     f"answers{j}")))
            q.result_slice = slice(start, len(reqs))
        return self._call(ctx, pend, seconds, "answers", reqs)

    def _apply_sampled(self, ctx: RunContext, q: Pending, results: list[GenerateResult]
                       ) -> None:
        d, p = q.decision, self.params
        for r in results:
            q.charge("candidate", r)
        answers = q.answers + [self._answers_of(ctx, r) for r in results]
        tokens = sum(len(ids) for r in answers[1:] for ids, _, _ in r)
        d.tokens["candidate"] += tokens
        q.thought.record.add_tokens(candidate=tokens)
        self._tally(d, answers)
        classes = list(q.thought.memory.get("classes", []))
        index = [[self._class_index(classes, key) for _, key, _ in ctx_answers
                  if key is not None] for ctx_answers in answers]
        counts = np.zeros((len(answers), len(classes)))
        for row, idx in enumerate(index):
            np.add.at(counts[row], idx, 1)
        # persist the most frequent classes now (then over the forecasts): beam_size of them
        order = np.lexsort((-counts.sum(0), -counts[0]))[: p.beam_size]
        q.thought.memory["classes"] = [classes[i] for i in order]
        # the contexts with enough gradable answers to count: now, and the forecasts that do
        used = [0] + [r for r in range(1, len(answers)) if counts[r].sum() >= self.need]
        d.scores = {"counts": counts.astype(int).tolist(), "used": used}
        if counts[0].sum() < self.need or (self.forecasts() and len(used) == 1):
            self._no_estimate(q, classes)
            return
        h = counts_entropy(counts[used])
        rng = np.random.default_rng(derive_seed(p.seed, q.thought.record.uid, d.index, "se"))
        d.se = score_standard_error(counts[0], h[1:], rng)
        try:
            go_on = self.judge(d, counts[0] / counts[0].sum(), h)
        except NonFiniteScores as e:
            q.fail("nonfinite_scores", str(e))
            return
        self._record(q, go_on, classes, h)

    # -- scored estimator -----------------------------------------------------------------
    def _score(self, ctx: RunContext, pend: list[Pending],
               seconds: dict[str, float]) -> list[ScoreResult] | None:
        reqs: list[ScoreRequest] = []
        for q in pend:
            if q.decision.failure:
                continue
            classes = list(q.thought.memory.get("classes", []))
            forms = dict(q.thought.memory.get("forms", {}))  # token ids -> class index
            self._tally(q.decision, q.answers[:1])
            if q.decision.gradable[0] < self.need:
                q.unestimated, q.classes = True, classes
                continue
            for ids, key, _ in q.answers[0]:
                if ids and key is not None and ids not in forms:
                    forms[ids] = self._class_index(classes, key)
            q.classes, q.forms = classes, forms
            start = len(reqs)
            for c in [q.now] + [q.forecast_from + y for y in q.mc]:
                context = c + ctx.tail  # one prefix object per context, shared by its forms
                reqs += [ScoreRequest(context, ids) for ids in forms]
            q.result_slice = slice(start, len(reqs))
        return self._call(ctx, pend, seconds, "score", reqs)

    def _apply_scored(self, q: Pending, scores: list[ScoreResult]) -> None:
        classes, forms = q.classes, q.forms
        for s in scores:
            q.charge("score", s)
        q.decision.tokens["score_prompt"] = sum(s.prompt_tokens for s in scores)
        q.decision.tokens["score_cached"] = sum(s.cached_tokens for s in scores)
        q.thought.record.add_tokens(score_prompt=q.decision.tokens["score_prompt"],
                                    score_cached=q.decision.tokens["score_cached"])
        grid = np.asarray([s.logprob for s in scores], dtype=np.float64).reshape(-1, len(forms))
        try:
            probs = pooled_posterior(grid, list(forms.values()), len(classes))
            h = entropy(probs)
            # the scores are exact given the forms: the forecasts are the draws
            q.decision.se = (float(h[1:].std(ddof=1) / np.sqrt(len(h) - 1)) if len(h) > 2
                             else None)
            go_on = self.judge(q.decision, probs[0], h)
        except NonFiniteScores as e:
            q.fail("nonfinite_scores", str(e))
            return
        # persist the beam_size most probable surface forms now, and their classes
        keep = np.argsort(-grid[0], kind="stable")[: self.params.beam_size]
        kept = [list(forms)[i] for i in sorted(keep)]
        used = sorted({forms[ids] for ids in kept})
        q.thought.memory["classes"] = [classes[i] for i in used]
        q.thought.memory["forms"] = {ids: used.index(forms[ids]) for ids in kept}
        covered = 1 - probs[:, -1]
        q.decision.scores = {"forms": len(forms), "form_class": list(forms.values()),
                             "logprobs": grid.round(4).tolist(),
                             "covered": covered.round(6).tolist()}
        # the forms drawn cover under half of some context's mass: its entropy is mostly the
        # "(other)" outcome's, a bound more than an estimate
        q.decision.low_coverage = bool((covered < 0.5).any())
        self._record(q, go_on, [*classes, "(other)"], h)

    def _record(self, q: Pending, go_on: bool, labels: list, h: np.ndarray) -> None:
        q.decision.estimator = self.params.posterior_estimator
        q.decision.candidates = [str(c) for c in labels]
        q.decision.context_entropies = [float(x) for x in h]
        q.decision.decision = (("extend" if q.decision.kind == "end" else "continue") if go_on
                               else "stop")

    def _act(self, ctx: RunContext, q: Pending) -> None:
        t, d = q.thought, q.decision
        t.record.decisions.append(d)
        if d.failure:
            t.record.failure = d.failure
            t.stop("failure")
        elif d.decision == "stop":
            t.stop(self.early_stop if d.kind == "step" else "natural_end")
        elif d.decision == "extend":
            score = self.score_of(d)
            d.continuation = next((text for g, text in self.params.continuations
                                   if score is not None and score >= g),
                                  self.params.continuations[-1][1])
            if self.append(ctx, t, d.continuation):
                t.record.extensions += 1
        if self.params.debug:
            log.info("%s q%d decision %d (%s) at %d tokens: H=%s E[H']=%s EIG=%s -> %s%s",
                     self.name, t.record.index, d.index, d.kind, d.thinking_tokens, _f(d.entropy),
                     _f(d.expected_next_entropy), _f(d.eig), d.decision,
                     f" [{d.failure}: {d.failure_message}]" if d.failure else "")


def _f(x: float | None) -> str:
    return "-" if x is None else f"{x:.4f}"
