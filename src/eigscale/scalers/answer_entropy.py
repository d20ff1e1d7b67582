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

from dataclasses import dataclass

import numpy as np

from eigscale.eig import NonFiniteScores
from eigscale.params import param
from eigscale.records import Decision
from eigscale.scalers.posterior import CheckpointParams, PosteriorScaler


@dataclass(frozen=True)
class AnswerEntropyParams(CheckpointParams):
    """`answer_entropy`: the direct ablation of EIG. At EIG's checkpoints, with EIG's candidate
    answers and posterior, stop when the entropy itself is at most tau (the answer has settled)
    rather than when its expected drop is at most lambda_cost; no forecasts are drawn."""

    tau: float = param(0.5, float, 0.0, 10.0)
    """Entropy threshold (nats): continue iff H_t > tau. 0 with the sampled estimator asks
    for beam_size answers in one class (Dynasor's unanimity); log(beam_size) never stops."""


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
