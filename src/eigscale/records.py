"""What a scaler run leaves behind: per-decision and per-question records, and the run summary.

Records are plain dataclasses built by the process that made the decisions and returned with
the answers; `to_dict()` gives JSON-ready data. No global state: two runs never mix.
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

from eigscale.engines.base import FinishReason

# why a question stopped thinking: one of these, which every thinking rule records, or a rule's
# own (its class's `stop_reasons`; all of them: eigscale.scalers.STOP_REASONS)
StopReason = str
COMMON_STOP_REASONS = ("budget", "natural_end", "failure")
# a decision at a step boundary (may stop early) or at a natural end of thinking (may extend)
DecisionKind = Literal["step", "end"]
Verdict = Literal["continue", "extend", "stop"]
# what went wrong inside a decision; the question then stops thinking and answers
FailureKind = Literal["time_exceeded", "context_overflow", "engine_error", "empty_candidates",
                      "nonfinite_scores"]

# what a question is charged for, from the engine's own per-request counts (prefill: prompt
# tokens not served from the cache; decoded: tokens the engine generated, EOS and stop tokens
# included), by the purpose of the request
CHARGE_KINDS = ("reasoning", "answer", "output", "candidate", "mc", "probe", "score")


def charge(target: Any, kind: str, result: Any) -> None:
    """Charge one engine request's work (a GenerateResult or ScoreResult) to a record or a
    decision: its uncached prompt tokens and the tokens the engine decoded for it."""
    target.prefill[kind] = (target.prefill.get(kind, 0) + result.prompt_tokens
                            - result.cached_tokens)
    target.decoded[kind] = target.decoded.get(kind, 0) + getattr(result, "decoded_tokens", 0)


# "probe_prompt": the tokens a probe or trial answer appends to the thinking (computed anew
# each time; the thinking before it is served from the prefix cache)
TOKEN_KINDS = ("thinking", "candidate", "mc", "probe", "probe_prompt", "score_prompt",
               "score_cached", "answer")


@dataclass
class Decision:
    """One decision of a rule for one question: an EIG or answer-entropy checkpoint, a
    Dynasor probe, a DEER check. The fields a rule does not compute stay empty (only EIG fills
    `eig`; DEER and Dynasor put their raw numbers under `scores`). Seconds are the wall time
    of the batched round the decision belonged to (shared by every question deciding then)."""

    index: int
    kind: DecisionKind
    thinking_tokens: int
    candidates: list[str] = field(default_factory=list)  # answer classes (the grader's; a
    # candidate with nothing gradable is in none of them; "(other)": the mass no scored form
    # covers)
    posterior: list[float] = field(default_factory=list)  # over candidates, at x_t
    estimator: str | None = None  # "sampled" or "scored"
    context_entropies: list[float] = field(default_factory=list)  # H at x_t, then per forecast
    scores: dict = field(default_factory=dict)  # raw: class counts per context (sampled); or
    # per-form log-probs per context, form classes and covered mass per context (scored)
    # per context (now, then each forecast): the answers drawn there that the grader can read,
    # that it cannot (no answer in them), and that were cut at max_answer_tokens (left out too)
    gradable: list[int] = field(default_factory=list)
    unparsed: list[int] = field(default_factory=list)
    truncated: list[int] = field(default_factory=list)
    # too few gradable answers now (or in every forecast) to estimate anything: no score, and
    # thinking went on (no information is not certainty)
    unestimated: bool = False
    # scored estimator: some context's forms cover less than half of its probability mass
    low_coverage: bool = False
    entropy: float | None = None
    expected_next_entropy: float | None = None
    eig: float | None = None
    se: float | None = None  # standard error of the rule's score (EIG, or the entropy)
    decision: Verdict = "stop"
    continuation: str | None = None
    engine_calls: int = 0
    tokens: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    failure: FailureKind | None = None
    failure_message: str | None = None
    over_time: float | None = None  # seconds past max_computation_time of a decision that
    # was computed in full and stands
    prefill: dict[str, int] = field(default_factory=dict)  # its requests' charges (`charge`)
    decoded: dict[str, int] = field(default_factory=dict)


@dataclass
class QuestionRecord:
    """Everything about one question's run."""

    index: int
    uid: str
    prompt_tokens: int
    sample: int = 0  # which of the question's sampled traces (eigscale.scalers.base.question_uid)
    thinking_tokens: int = 0
    answer_tokens: int = 0
    answer_finish: FinishReason | Literal[""] = ""  # "length": the answer hit its room
    stop_reason: StopReason | Literal[""] = ""
    extensions: int = 0
    thinking: str = ""
    answer: str = ""
    decisions: list[Decision] = field(default_factory=list)
    tokens: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TOKEN_KINDS, 0))
    failure: FailureKind | None = None
    # every engine request made for this question, charged by kind (`charge`): what the
    # compute axis counts (eigscale.compute)
    prefill: dict[str, int] = field(default_factory=dict)
    decoded: dict[str, int] = field(default_factory=dict)

    def add_tokens(self, **kinds: int) -> None:
        for k, v in kinds.items():
            self.tokens[k] = self.tokens.get(k, 0) + v

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QuestionRecord:
        """Inverse of to_dict (extra keys, such as a stored response, are ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        rec = cls(**{k: v for k, v in data.items() if k in names and k != "decisions"})
        fields = {f.name for f in dataclasses.fields(Decision)}
        rec.decisions = [Decision(**{k: v for k, v in d.items() if k in fields})
                         for d in data.get("decisions", [])]
        return rec


def _stats(xs: list[float]) -> dict[str, float | None]:
    if not xs:
        return {"mean": None, "std": None, "min": None, "max": None}
    mean = sum(xs) / len(xs)
    std = math.sqrt(sum((x - mean) ** 2 for x in xs) / len(xs))
    return {"mean": mean, "std": std, "min": min(xs), "max": max(xs)}


def summarise(records: list[QuestionRecord], seconds: dict[str, float],
              engine: dict[str, Any]) -> dict[str, Any]:
    """The run summary of any rule (the seed's, for EIG): decisions, continue rate, timing per
    component, success rate and failure breakdown, token totals by kind and the engine's
    counters; the EIG statistics ("eig") when the decisions carry an EIG (the EIG rule's)."""
    decisions = [d for r in records for d in r.decisions]
    eigs = [d.eig for d in decisions if d.eig is not None and math.isfinite(d.eig)]
    failed = [d for d in decisions if d.failure]
    go_on = [d for d in decisions if d.decision in ("continue", "extend")]
    thinking = [r.thinking_tokens for r in records]
    return {
        "questions": len(records),
        "decisions": len(decisions),
        **({"eig": _stats(eigs)} if eigs else {}),
        "continue_rate": len(go_on) / len(decisions) if decisions else None,
        "decisions_by_outcome": dict(Counter(d.decision for d in decisions)),
        "success_rate": 1 - len(failed) / len(decisions) if decisions else None,
        "failures": dict(Counter(d.failure for d in failed)),
        "decisions_over_time": sum(1 for d in decisions if d.over_time),
        "failed_questions": sum(1 for r in records if r.failure),
        "stop_reasons": dict(Counter(r.stop_reason for r in records)),
        "answers_at_limit": sum(1 for r in records if r.answer_finish == "length"),
        "candidates": {k: sum(sum(getattr(d, k)) for d in decisions)
                       for k in ("gradable", "unparsed", "truncated")},
        "unestimated_decisions": sum(1 for d in decisions if d.unestimated),
        "low_coverage_decisions": sum(1 for d in decisions if d.low_coverage),
        "thinking_tokens": _stats([float(t) for t in thinking]),
        "tokens": {k: sum(r.tokens.get(k, 0) for r in records) for k in TOKEN_KINDS},
        "charged": {part: {k: sum(getattr(r, part).get(k, 0) for r in records)
                           for k in CHARGE_KINDS} for part in ("prefill", "decoded")},
        "seconds": dict(seconds),
        "engine": dict(engine),
    }
