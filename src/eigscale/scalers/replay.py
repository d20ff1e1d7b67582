"""Replay sweeps: every setting of a sweep from one reasoning trace per question (and sample).

With greedy main decoding, a budget-forcing cap, an EIG or answer-entropy threshold, a Dynasor
window or a DEER threshold only cuts the same trace at a different point. Each replayable rule
declares what a sweep may vary (`replay_vary`), which of its values thinks longest and so makes
the trace (`replay_tracer`), and where a live run with another value stops on that trace
(`replay_cut`, next to the rule's own loop in its module): nothing here names a rule.

Then one batched call forces the answer at every distinct cut point. Exact as long as the
engine's greedy tokens and scores do not depend on which other requests share a batch (see
the replay test); the cost is about one live run at the most expensive setting plus the
answers.

Sampled main decoding (temperature > 0) replays too. A sampled trace depends on where its
rounds end (each round draws from its own seed), so a rule reasoning in steps would draw
another trace than one reasoning in one round. So the traces are drawn once, rule-free: one
budget-forcing round per (question, sample), seeded by the decoding's seed (`shared_traces`:
the oracle grid's trace and every sweep's are the same draw), served to the tracer
(eigscale.engines.traces), which decides on them; only text a rule inserts (an extension)
continues live. Every run of the sweep is decided on that trace, as a live run over an engine
that served it would decide (the replay test shows it for every rule), so every rule of a
model is paired with every other, trace by trace. The k sampled traces of a question are its
prompt k times with sample indices (`samples`), each seeded by its own. The reasoning the
served trace stands for is charged as a prefix-cached engine would charge it.

What cannot be replayed, and is refused with ReplayError: sweeps that vary anything else
(step_tokens, probe_interval, continuation prompts, thinking_n_ignore...), which change the
trace itself.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from dataclasses import replace

from eigscale.engines.base import Engine
from eigscale.engines.traces import TraceRecorder, TraceServer
from eigscale.errors import ParamError
from eigscale.params import ThinkingParams
from eigscale.scalers.base import GREEDY, Decoding, ScalerOutput
from eigscale.scalers.budget_forcing import BudgetForcing, BudgetForcingParams
from eigscale.scalers.cuts import rounds_charge
from eigscale.scalers.thinking import ThinkingScaler, Thought


class ReplayError(ParamError):
    """This sweep cannot be derived from one trace; it needs live runs."""


def check_replayable(scalers: Sequence[ThinkingScaler], source: str = "sweep") -> str:
    """Raise ReplayError unless the scalers differ only in their replayable parameter; return
    that parameter's name. Any main decoding: a sampled trace is cut as a greedy one is."""
    names = {s.name for s in scalers}
    vary = scalers[0].replay_vary if scalers else None
    if len(names) != 1 or vary is None:
        raise ReplayError(f"{source}: replay covers the runs of one replayable rule (one "
                          f"declaring replay_vary) per sweep, not "
                          f"{sorted(s.name for s in scalers)}; set replay: false")
    name = names.pop()
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
           until: Sequence[str] = (), samples: Sequence[int] = ()) -> list[ScalerOutput]:
    """What `s.run(engine, prompts, max_gen_toks, decoding, until)` returns for each s in
    `scalers`, from one trace. Summaries carry "replay": {runs, trace_params, seconds}."""
    vary = check_replayable(scalers)
    t0 = time.perf_counter()
    tracer = tracer_of(scalers)
    if decoding.temperature > 0:
        engine = shared_traces(engine, tracer, prompts, max_gen_toks, decoding, samples)
    ctx = tracer.think(engine, prompts, max_gen_toks, decoding, samples)
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


def tracer_of(scalers: Sequence[ThinkingScaler]) -> ThinkingScaler:
    """The run of a replay sweep that makes its trace: the one that thinks longest (every other
    one stops on its trace at or before it does), by the rule's `replay_tracer`."""
    vary = scalers[0].replay_vary
    pick = max if scalers[0].replay_tracer == "largest" else min
    return pick(scalers, key=lambda s: getattr(s.params, vary))


def shared_traces(engine: Engine, tracer: ThinkingScaler, prompts: Sequence[Sequence[int]],
                  max_gen_toks: int, decoding: Decoding, samples: Sequence[int] = ()
                  ) -> TraceServer:
    """The model's sampled traces, as every rule of it draws them: one budget-forcing round per
    (question, sample) to the tracer's cap, seeded by the decoding's seed alone (the oracle's
    trace, and any other sweep's, is the same draw: a cap shorter or longer only ends it
    elsewhere). Served to the tracer, which decides on them; where it inserts text (an
    extension) the engine samples on from there."""
    keep = {k: v for k, v in tracer.params.to_dict().items() if k in ThinkingParams.names()}
    recorder = TraceRecorder(engine)
    BudgetForcing(BudgetForcingParams(**keep)).think(recorder, prompts, max_gen_toks, decoding,
                                                     samples)
    return TraceServer(engine, recorder.traces, fallback=True)


def _cut(s: ThinkingScaler, t: Thought) -> Thought:
    """t as scaler s would have left it: thinking, stop reason, extensions, decisions, and the
    tokens of the decisions kept (thinking and answer tokens are counted by finish/answers)."""
    rec = copy.deepcopy(t.record)
    memory = dict(t.memory)
    at, reason, ext = s.replay_cut(t, rec, memory)
    rec.stop_reason, rec.extensions = reason, ext
    rec.failure = rec.decisions[-1].failure if reason == "failure" else None
    rec.tokens = dict.fromkeys(rec.tokens, 0)
    rec.prefill, rec.decoded = {}, {}
    for d in rec.decisions:
        rec.add_tokens(**{k: v for k, v in d.tokens.items()
                          if k in ("candidate", "mc", "probe", "probe_prompt", "score_prompt",
                                   "score_cached")})
        for part in ("prefill", "decoded"):
            for k, v in getattr(d, part).items():
                getattr(rec, part)[k] = getattr(rec, part).get(k, 0) + v
    if t.rounds_log and at > t.rounds_log[0][0]:  # the reasoning rounds up to the cut
        prefill, decoded = rounds_charge(t, at)
        rec.prefill["reasoning"] = rec.prefill.get("reasoning", 0) + prefill
        rec.decoded["reasoning"] = rec.decoded.get("reasoning", 0) + decoded
    return replace(t, thinking=s.replay_thinking(t, at), record=rec, trace=[], memory=memory,
                   rounds_log=[])
