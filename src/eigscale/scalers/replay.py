"""Replay sweeps: every cap or every lambda of a sweep from one reasoning trace per question.

With greedy main decoding, a budget-forcing cap or an EIG early stop only cuts the same trace at
a different point:

- budget_forcing, caps c_1 < ... < c_n: think once with the largest cap; cap c cuts the trace
  where a live run with cap c would have stopped (at c, at a natural end whose stop string
  completes within c, or before a "Wait" that would not fit: the trace's events say which).
- expected_information_gain_reasoning, lambdas l_1 < ... < l_n (answer_entropy: taus): think
  once with the smallest, deciding at every decision point; lambda l stops at the first
  decision whose EIG is <= l (tau: whose entropy is <= tau). The decisions before it are the
  trace's own: same prefix, same seeds (per question and decision index), same persistent
  candidates. The continuation prompt of an extension depends on the score alone, not on the
  threshold, so extensions replay too.
- dynasor_cot, windows w_1 < ... < w_n: think once with the largest window, probing every
  probe_interval tokens (probes seeded by question and position); window w stops at the first
  probe whose last w probes agree. The interval itself changes where the trace is chunked, so
  it is not replayed: one sweep of windows per interval.
- deer, thresholds: think once with the highest threshold, checking at every transition (up
  to max_judge_steps; greedy trial answers); threshold th stops at the first check whose
  confidence exceeds th.

Then one batched call forces the answer at every distinct cut point. Exact as long as the
engine's greedy tokens and scores do not depend on which other requests share a batch (see
the replay test); the cost is about one live run at the most expensive setting plus the
answers.

What cannot be replayed, and is refused with ReplayError: sampled main decoding (temperature
> 0: every run draws its own trace), and sweeps that vary anything else (sampling parameters,
step_tokens, continuation prompts, thinking_n_ignore...), which change the trace itself.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from dataclasses import replace

from eigscale.engines.base import Engine
from eigscale.errors import ParamError
from eigscale.records import QuestionRecord
from eigscale.scalers import SCALERS
from eigscale.scalers.base import GREEDY, Decoding, ScalerOutput
from eigscale.scalers.budget_forcing import BudgetForcing
from eigscale.scalers.deer import DEER
from eigscale.scalers.dynasor import DynasorCoT
from eigscale.scalers.posterior import PosteriorScaler
from eigscale.scalers.thinking import ThinkingScaler, Thought

# the one parameter a replayable sweep may vary, per scaler (as each class declares it)
REPLAY_VARY = {name: cls.replay_vary for name, cls in SCALERS.items() if cls.replay_vary}


class ReplayError(ParamError):
    """This sweep cannot be derived from one trace; it needs live runs."""


def check_replayable(scalers: Sequence[ThinkingScaler], decoding: Decoding = GREEDY,
                     source: str = "sweep") -> str:
    """Raise ReplayError unless the scalers differ only in their replayable parameter and the
    main decoding is greedy; return that parameter's name."""
    names = {s.name for s in scalers}
    if len(names) != 1 or (name := names.pop()) not in REPLAY_VARY:
        raise ReplayError(f"{source}: replay covers one scaler of {sorted(REPLAY_VARY)} per "
                          f"sweep, not {sorted(s.name for s in scalers)}; set replay: false")
    vary = REPLAY_VARY[name]
    if decoding.temperature > 0:
        raise ReplayError(f"{source}: replay needs greedy main decoding (temperature "
                          f"{decoding.temperature} draws a new trace per run); set replay: false")
    base = {k: v for k, v in scalers[0].params.to_dict().items() if k != vary}
    for s in scalers[1:]:
        other = {k: v for k, v in s.params.to_dict().items() if k != vary}
        diff = sorted(k for k in base if base[k] != other[k])
        if diff:
            raise ReplayError(f"{source}: replay of {name} may vary only {vary}; these runs "
                              f"also differ in {', '.join(diff)}, which changes the trace "
                              "itself (adaptive settings need live runs): set replay: false",
                              param=diff[0], value=other[diff[0]], source=source)
    if vary == "max_tokens_thinking" and any(s.params.max_tokens_thinking == "auto"
                                             for s in scalers):
        raise ReplayError(f"{source}: replay needs numeric caps, not max_tokens_thinking=auto",
                          param="max_tokens_thinking", value="auto", source=source)
    return vary


def replay(engine: Engine, scalers: Sequence[ThinkingScaler], prompts: Sequence[Sequence[int]],
           max_gen_toks: int, decoding: Decoding = GREEDY,
           until: Sequence[str] = ()) -> list[ScalerOutput]:
    """What `s.run(engine, prompts, max_gen_toks, decoding, until)` returns for each s in
    `scalers`, from one trace. Summaries carry "replay": {runs, trace_params, seconds}."""
    vary = check_replayable(scalers, decoding)
    t0 = time.perf_counter()
    # the run that thinks longest: every other one stops on its trace at or before it does
    if vary in ("max_tokens_thinking", "window", "threshold"):
        tracer = max(scalers, key=lambda s: getattr(s.params, vary))
    else:
        tracer = min(scalers, key=lambda s: getattr(s.params, vary))
    ctx = tracer.think(engine, prompts, max_gen_toks, decoding)
    cuts = [[_cut(s, t) for t in ctx.thoughts] for s in scalers]
    flat = [c for per_scaler in cuts for c in per_scaler]
    texts = tracer.force_answers(engine, flat, ctx, until)
    seconds = time.perf_counter() - t0
    outs, n = [], len(prompts)
    for k, s in enumerate(scalers):
        budget = int(s.params.max_tokens_thinking) if vary == "max_tokens_thinking" else None
        out = s.finish(ctx, cuts[k], texts[k * n:(k + 1) * n], budget)
        out.summary["replay"] = {"runs": len(scalers), "trace_params": tracer.params.to_dict(),
                                 "seconds": seconds}
        outs.append(out)
    return outs


def _cut(s: ThinkingScaler, t: Thought) -> Thought:
    """t as scaler s would have left it: thinking, stop reason, extensions, decisions, and the
    tokens of the decisions kept (thinking and answer tokens are counted by finish/answers)."""
    rec = copy.deepcopy(t.record)
    memory = dict(t.memory)
    if isinstance(s, BudgetForcing):
        at, reason, ext = cap_cut(t, int(s.params.max_tokens_thinking),
                                   s.params.thinking_n_ignore)
        rec.decisions = []
    elif isinstance(s, DEER):
        at, reason, ext = _confidence_cut(t, rec, s)
    elif isinstance(s, DynasorCoT):
        at, reason, ext = _window_cut(t, rec, s)
        if reason == "probe_stop":
            memory["answer"] = rec.decisions[-1].scores["answer"]
    else:
        at, reason, ext = _verdict_cut(t, rec, s)
    rec.stop_reason, rec.extensions = reason, ext
    rec.failure = rec.decisions[-1].failure if reason == "failure" else None
    rec.tokens = dict.fromkeys(rec.tokens, 0)
    for d in rec.decisions:
        rec.add_tokens(**{k: v for k, v in d.tokens.items()
                          if k in ("candidate", "mc", "probe", "probe_prompt", "score_prompt",
                                   "score_cached")})
    thinking = tokens_to(t, at) if isinstance(s, BudgetForcing) else t.thinking[:at]
    return replace(t, thinking=thinking, record=rec, trace=[], memory=memory)


def tokens_to(t: Thought, at: int) -> list[int]:
    """The first `at` tokens a live run capped at `at` would have thought: the trace's own,
    except where the cap falls inside a delimiter the trace cut off at a natural end (the live
    run keeps the delimiter's first tokens: the stop string never completed for it)."""
    for kind, end, raw_end in t.trace:
        if kind == "end" and end < at < raw_end:
            return t.thinking[:end] + list(t.end_tokens.get(end, ()))[:at - end]
    return t.thinking[:at]


def cap_cut(t: Thought, cap: int, n_ignore: int) -> tuple[int, str, int]:
    """Where a live budget_forcing run with this cap stops on t's trace (made with a larger
    cap, same n_ignore)."""
    ext = 0
    for kind, at, n in t.trace:
        if kind == "end":
            if n > cap:  # the stop string would not complete within the cap: budget
                return cap, "budget", ext
            if ext >= n_ignore:
                return at, "natural_end", ext
        else:  # an inserted "Wait" of n tokens
            if at + n >= cap:
                return at, "budget", ext
            ext += 1
    # the trace ran out of its (larger) cap, or a "Wait" did not fit it: neither fits this cap
    return min(cap, len(t.thinking)), "budget", ext


def _verdict_cut(t: Thought, rec: QuestionRecord, s: PosteriorScaler) -> tuple[int, str, int]:
    """Where a live run of s stops on t's trace (made with a threshold that kept thinking
    longer): at the first recorded decision s's own verdict stops on; rec (a copy of t's
    record) keeps the decisions up to there."""
    for k, d in enumerate(rec.decisions):
        if d.failure is None and s.goes_on(d):
            continue
        return _stop_at(t, rec, k, s.early_stop)
    return len(t.thinking), rec.stop_reason, rec.extensions


def _confidence_cut(t: Thought, rec: QuestionRecord, s: DEER) -> tuple[int, str, int]:
    """Where a live deer run with s's threshold stops on t's trace (made with a higher one):
    at the first check whose trial answer's confidence passes it (the checks sit at the same
    transitions whatever the threshold: a check that goes on keeps the transition word)."""
    for k, d in enumerate(rec.decisions):
        if d.scores["confidence"] > s.params.threshold:
            return _stop_at(t, rec, k, "deer_stop")
    return len(t.thinking), rec.stop_reason, rec.extensions


def _window_cut(t: Thought, rec: QuestionRecord, s: DynasorCoT) -> tuple[int, str, int]:
    """Where a live dynasor_cot run with s's window stops on t's trace (made with a larger
    window): at the first probe whose last `window` probes pass its rule."""
    history: list[tuple[str | None, bool]] = []
    for k, d in enumerate(rec.decisions):
        history = [*history, (d.scores["class"], d.scores["certain"])][-s.params.window:]
        if s.settled(history):
            return _stop_at(t, rec, k, "probe_stop")
    return len(t.thinking), rec.stop_reason, rec.extensions


def _stop_at(t: Thought, rec: QuestionRecord, k: int, early: str) -> tuple[int, str, int]:
    """Cut rec's decisions after the k-th, which stops thinking (a failure, or the rule)."""
    d = rec.decisions[k]
    del rec.decisions[k + 1:]
    ext = sum(1 for kind, at, _ in t.trace if kind == "insert" and at < d.thinking_tokens)
    if d.failure:
        return d.thinking_tokens, "failure", ext
    d.decision, d.continuation = "stop", None
    return d.thinking_tokens, early if d.kind == "step" else "natural_end", ext
