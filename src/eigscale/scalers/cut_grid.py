"""The oracle grid: the forced answer at every cut of one greedy trace per question.

For the oracle analysis (eigscale.pipeline.frontier) each question needs c_i(t), the correctness of
the answer forced when its thinking is cut at t, on a grid of cuts: t = 0, step, 2 step, ...
below the trace's end T_i, and T_i itself. The trace is a budget_forcing run's (no "Wait"
extensions) with the largest cap, thinking until a natural end or that cap; a cut at t is what
a live budget_forcing run capped at t would have thought (eigscale.scalers.cuts), answered
the way every rule answers (thinking_end + answer prompt at a cut, thinking_end alone at a
natural end). One batched call answers every cut of every question; the cuts share the trace's
prefix, so the engine's prefix cache serves most of their prefill.

Grading is the task's business (eigscale.lmeval.oracle_command): here each cut keeps only the
text after the thinking (the forced tail and the answer), which is all a grader reads; the
thinking itself is the trace's and is not copied per cut (500 questions x 128 cuts x 8k tokens
would not fit).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from eigscale.engines.base import Engine
from eigscale.scalers.base import GREEDY, Decoding
from eigscale.scalers.budget_forcing import BudgetForcing
from eigscale.scalers.cuts import cap_cut, rounds_charge, tokens_to
from eigscale.scalers.thinking import RunContext, Thought


@dataclass(frozen=True)
class Cut:
    """One question's forced answer at one cut of its trace."""

    t: int  # thinking tokens before the cut
    end: int  # the trace's own thinking length T_i (t == end: the trace's end)
    stop_reason: str  # "budget" (a cut), or the trace's own end ("natural_end" / "budget")
    answer_tokens: int
    text: str  # what follows the thinking: the forced tail and the answer
    # what a live budget_forcing run capped at t is charged, from the engine's counts
    # (eigscale.records.charge): the trace's reasoning rounds up to the cut (a cut at 0: the
    # first round's prefill, the prompt, which a live run prefills with its answer) and the
    # forced answer's request (its uncached prompt: the tail, the partial block), in prompt
    # tokens not served from the cache and tokens decoded, EOS included
    prefill_tokens: int = 0
    decoded_tokens: int = 0
    # the answer stopped at the oracle's answer cap, where a live run would have written on
    answer_capped: bool = False


def grid_points(end: int, step: int) -> list[int]:
    """0, step, 2 step, ... below `end`, then `end`."""
    return [*range(0, end, step), end]


def oracle_grid(engine: Engine, tracer: BudgetForcing, prompts: Sequence[Sequence[int]],
                max_gen_toks: int, step: int, decoding: Decoding = GREEDY,
                until: Sequence[str] = (), answer_cap: int | None = None,
                samples: Sequence[int] = ()) -> tuple[RunContext, list[list[Cut]]]:
    """Think once with `tracer` (its cap is the grid's last point), then force an answer at
    every grid cut of every question in one call, each answer at most `answer_cap` tokens
    (None: the room a live run has). Returns the run (its thoughts are the traces, not yet
    answered) and, per question, its cuts in increasing t."""
    if tracer.params.thinking_n_ignore:
        raise ValueError("the oracle's trace has no extensions: thinking_n_ignore must be 0")
    ctx = tracer.think(engine, prompts, max_gen_toks, decoding, samples)
    grids = [grid_points(len(t.thinking), step) for t in ctx.thoughts]
    flat = [_cut_at(t, k) for t, grid in zip(ctx.thoughts, grids, strict=True) for k in grid]
    texts = iter(tracer.force_answers(engine, flat, ctx, until, with_thinking=False,
                                      answer_cap=answer_cap))
    cut_thoughts = iter(flat)
    cuts = []
    for t, grid in zip(ctx.thoughts, grids, strict=True):
        cuts.append([])
        for k in grid:
            c = next(cut_thoughts)
            prefill, decoded = rounds_charge(t, k) if k else (t.rounds_log[0][1], 0)
            cuts[-1].append(Cut(t=k, end=len(t.thinking), stop_reason=c.record.stop_reason,
                                answer_tokens=c.record.answer_tokens, text=next(texts),
                                prefill_tokens=prefill + c.record.prefill.get("answer", 0),
                                decoded_tokens=decoded + c.record.decoded.get("answer", 0),
                                answer_capped=(answer_cap is not None
                                               and c.record.answer_finish == "length"
                                               and c.record.answer_tokens >= answer_cap)))
    return ctx, cuts


def _cut_at(t: Thought, k: int) -> Thought:
    """t cut where a live budget_forcing run capped at k stops: at k, or at its own end (the
    trace has no extensions, so its one natural end, if any, is its end)."""
    # its own counts: the cut's answer request is charged to it alone
    rec = replace(t.record, tokens=dict(t.record.tokens), prefill={}, decoded={})
    if k == len(t.thinking):
        return replace(t, record=rec, trace=[])
    at, rec.stop_reason, _ = cap_cut(t, k, 0)
    return replace(t, thinking=tokens_to(t, at), record=rec, trace=[])
