"""Replay sweeps: every cap or every lambda of a sweep from one reasoning trace per question.

With greedy main decoding, a budget-forcing cap or an EIG early stop only cuts the same trace at
a different point:

- budget_forcing, caps c_1 < ... < c_n: think once with the largest cap; cap c cuts the trace
  where a live run with cap c would have stopped (at c, at a natural end whose stop string
  completes within c, or before a "Wait" that would not fit: the trace's events say which).
- expected_information_gain_reasoning, lambdas l_1 < ... < l_n: think once with the smallest
  lambda, deciding at every decision point; lambda l stops at the first decision whose EIG is
  <= l. The decisions before it are the trace's own: same prefix, same seeds (per question and
  decision index), same persistent candidates. The continuation prompt of an extension depends on
  the gain alone, not on lambda, so extensions replay too.

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
from eigscale.scalers.base import GREEDY, Decoding, ScalerOutput
from eigscale.scalers.budget_forcing import BudgetForcing
from eigscale.scalers.eig_reasoning import EIGReasoning
from eigscale.scalers.thinking import ThinkingScaler, Thought

# the one parameter a replayable sweep may vary, per scaler
REPLAY_VARY = {BudgetForcing.name: "max_tokens_thinking", EIGReasoning.name: "lambda_cost"}


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
    if vary == "max_tokens_thinking":
        tracer = max(scalers, key=lambda s: int(s.params.max_tokens_thinking))
    else:
        tracer = min(scalers, key=lambda s: s.params.lambda_cost)
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
    if isinstance(s, BudgetForcing):
        at, reason, ext = _cap_cut(t, int(s.params.max_tokens_thinking),
                                   s.params.thinking_n_ignore)
        rec.decisions = []
    else:
        at, reason, ext = _lambda_cut(t, rec, s.params.lambda_cost)
    rec.stop_reason, rec.extensions = reason, ext
    rec.failure = rec.decisions[-1].failure if reason == "failure" else None
    rec.tokens = dict.fromkeys(rec.tokens, 0)
    for d in rec.decisions:
        rec.add_tokens(**{k: v for k, v in d.tokens.items()
                          if k in ("candidate", "mc", "score_prompt", "score_cached")})
    thinking = _tokens_to(t, at) if isinstance(s, BudgetForcing) else t.thinking[:at]
    return replace(t, thinking=thinking, record=rec, trace=[])


def _tokens_to(t: Thought, at: int) -> list[int]:
    """The first `at` tokens a live run capped at `at` would have thought: the trace's own,
    except where the cap falls inside a delimiter the trace cut off at a natural end (the live
    run keeps the delimiter's first tokens: the stop string never completed for it)."""
    for kind, end, raw_end in t.trace:
        if kind == "end" and end < at < raw_end:
            return t.thinking[:end] + list(t.end_tokens.get(end, ()))[:at - end]
    return t.thinking[:at]


def _cap_cut(t: Thought, cap: int, n_ignore: int) -> tuple[int, str, int]:
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


def _lambda_cut(t: Thought, rec: QuestionRecord, lam: float) -> tuple[int, str, int]:
    """Where a live EIG run with this lambda stops on t's trace (made with a smaller lambda);
    rec (a copy of t's record) keeps the decisions up to there."""
    for k, d in enumerate(rec.decisions):
        if d.failure is None and (d.eig is None or d.eig > lam):
            continue
        del rec.decisions[k + 1:]
        ext = sum(1 for kind, at, _ in t.trace if kind == "insert" and at < d.thinking_tokens)
        if d.failure:
            return d.thinking_tokens, "failure", ext
        d.decision, d.continuation = "stop", None
        return d.thinking_tokens, "eig_stop" if d.kind == "step" else "natural_end", ext
    return len(t.thinking), rec.stop_reason, rec.extensions
