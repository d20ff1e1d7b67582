"""Cutting a recorded trace where a live run with another setting would have stopped.

A replay sweep (eigscale.scalers.replay) and the oracle grid (eigscale.scalers.cut_grid) think once
and cut the trace for every other setting. Each replayable rule says where its live run stops
(`ThinkingScaler.replay_cut`) with these helpers, which read the trace's events
(`Thought.trace`) and its recorded decisions.
"""

from __future__ import annotations

from eigscale.records import QuestionRecord
from eigscale.scalers.thinking import Thought


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
    cap, same n_ignore): (thinking tokens, stop reason, extensions)."""
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


def stop_at(t: Thought, rec: QuestionRecord, k: int, early: str) -> tuple[int, str, int]:
    """Cut rec's decisions after the k-th, which stops thinking: a failure, or the rule (stop
    reason `early` at a step, natural_end at a natural end of thinking)."""
    d = rec.decisions[k]
    del rec.decisions[k + 1:]
    ext = sum(1 for kind, at, _ in t.trace if kind == "insert" and at < d.thinking_tokens)
    if d.failure:
        return d.thinking_tokens, "failure", ext
    d.decision, d.continuation = "stop", None
    return d.thinking_tokens, early if d.kind == "step" else "natural_end", ext


def uncut(t: Thought, rec: QuestionRecord) -> tuple[int, str, int]:
    """No decision of the trace stops this run: it thinks as long as the trace did."""
    return len(t.thinking), rec.stop_reason, rec.extensions


def rounds_charge(t: Thought, at: int) -> tuple[int, int]:
    """(prefill, decoded): what the trace's reasoning rounds up to a cut at `at` thinking
    tokens cost, as a live run stopped there was charged for them (Thought.rounds_log): a round
    that crosses the cut is charged its prefill and the tokens before the cut (a live run's
    round would have stopped there)."""
    prefill = decoded = 0
    starts = [start for start, _, _ in t.rounds_log]
    for k, (start, round_prefill, round_decoded) in enumerate(t.rounds_log):
        if start >= at:
            break
        whole = (starts[k + 1] if k + 1 < len(starts) else len(t.thinking)) <= at
        prefill += round_prefill
        decoded += round_decoded if whole else min(round_decoded, at - start)
    return prefill, decoded
