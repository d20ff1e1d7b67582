"""`answer_entropy`: stop when the answer has settled. The direct ablation of EIG.

The same checkpoints, candidate answers, classes and posterior estimator as EIG
(eigscale.scalers.posterior), but no forecasts: thinking goes on iff the entropy of the answer
posterior now is above `tau`. EIG asks whether more thinking is expected to lower it; this rule
only asks how high it is. With the sampled estimator and tau 0 it stops when all beam_size
answers fall in one class (the unanimity of Dynasor-CoT's probes, from one batched draw). At a
natural end the continuation prompt is chosen by the entropy (more uncertainty, a more
searching prompt), on the same thresholds as EIG's gain.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from eigscale.eig import NonFiniteScores, counts_entropy
from eigscale.errors import ParamError
from eigscale.params import param
from eigscale.records import Decision
from eigscale.scalers.base import Scaler
from eigscale.scalers.posterior import CheckpointParams, PosteriorScaler


@dataclass(frozen=True)
class AnswerEntropyParams(CheckpointParams):
    """`answer_entropy`: the direct ablation of EIG. At EIG's checkpoints, with EIG's candidate
    answers and posterior, stop when the entropy itself is at most tau (the answer has settled)
    rather than when its expected drop is at most lambda_cost; no forecasts are drawn."""

    tau: float = param(0.5, float, 0.0, 10.0)
    """Entropy threshold (nats): continue iff H_t > tau. 0 with the sampled estimator asks
    for beam_size answers in one class (Dynasor's unanimity); the larger tau, the earlier it
    stops (at the largest level, as soon as it has an estimate). With the sampled estimator
    H_t takes only a few levels (`entropy_levels`: for beam_size 8, 0, 0.439, 0.482, ...):
    taus with no level between them make the same decisions, and a sweep of them is
    refused."""


def _partitions(n: int, largest: int) -> Iterator[tuple[int, ...]]:
    """Every way to split n answers into classes (class sizes, largest first)."""
    if n == 0:
        yield ()
        return
    for k in range(min(n, largest), 0, -1):
        for rest in _partitions(n - k, k):
            yield (k, *rest)


def entropy_levels(beam_size: int, min_gradable: int) -> np.ndarray:
    """Every value the sampled estimator's entropy can take at a decision (sorted): the
    Miller-Madow entropy of the class counts of n gradable answers, for every n from
    min_gradable to beam_size (answers the grader cannot read are left out)."""
    values = {}  # splits that tie up to rounding are one level
    for n in range(max(1, min_gradable), beam_size + 1):
        for p in _partitions(n, n):
            h = float(counts_entropy(np.array(p)))
            values.setdefault(round(h, 9), h)
    return np.array(sorted(values.values()))


class AnswerEntropy(PosteriorScaler):
    name = "answer_entropy"
    params_class = AnswerEntropyParams
    label = "answer entropy"
    colour = "#ff7f0e"
    modules = ("eigscale.scalers.answer_entropy", "eigscale.scalers.posterior",
               "eigscale.scalers.thinking", "eigscale.eig")
    stop_reasons = ("entropy_stop",)
    replay_vary = "tau"
    params: AnswerEntropyParams

    @classmethod
    def check_sweep(cls, runs: Sequence[Scaler], vary: str, source: str) -> None:
        p = runs[0].params
        if vary != "tau" or p.posterior_estimator != "sampled" or p.decision_mode != "point":
            return  # a scored posterior's entropy, or an interval's bound, is continuous
        levels = entropy_levels(p.beam_size, p.min_gradable)
        by_level: dict[int, list[float]] = {}
        for r in runs:  # stop iff H <= tau: the levels at or below tau decide
            by_level.setdefault(int(np.searchsorted(levels, r.params.tau, side="right")),
                                []).append(r.params.tau)
        same = next((taus for taus in by_level.values() if len(taus) > 1), None)
        if same:
            shown = ", ".join(f"{x:.3f}" for x in levels[:12])
            raise ParamError(
                f"{source}: tau values {same} make the same decisions: with beam_size "
                f"{p.beam_size} and min_gradable {p.min_gradable} the sampled entropy takes "
                f"only the levels {shown}, ... (nats), and none lies in ({min(same)}, "
                f"{max(same)}]; keep one value per interval between levels", param="tau",
                value=same, source=source)

    def judge(self, d: Decision, p_now: np.ndarray, h: np.ndarray) -> bool:
        if not np.isfinite(h[0]):
            raise NonFiniteScores(f"entropy {h[0]}")
        d.posterior = [float(x) for x in p_now]
        d.entropy = float(h[0])
        return self.goes_on(d)

    @property
    def threshold(self) -> float:
        return self.params.tau

    def score_of(self, d: Decision) -> float | None:
        return d.entropy
