"""`expected_information_gain_reasoning`: think while it is expected to pay.

At each checkpoint (eigscale.scalers.posterior: every `step_tokens` thinking tokens, and every
natural end of thinking) the answer posterior p_t over the task's answer classes is estimated
now and after each of mc_samples forecast continuations y_j of sample_length tokens:

    EIG_t = H(p_t) - mean_j H(p_t | x_t + y_j)

Thinking goes on (a step: continue; a natural end: extend, with the continuation prompt chosen
by the size of the gain) iff EIG_t > lambda_cost. See eigscale.eig for the maths.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eigscale.eig import eig_from_entropies
from eigscale.engines.base import GenerateRequest
from eigscale.params import param
from eigscale.records import Decision
from eigscale.scalers.base import derive_seed
from eigscale.scalers.posterior import CheckpointParams, Pending, PosteriorScaler
from eigscale.scalers.thinking import RunContext


@dataclass(frozen=True)
class EIGParams(CheckpointParams):
    """`expected_information_gain_reasoning`: think while the expected information gain about
    the answer exceeds its cost. The seed's seven parameters are lambda_cost, beam_size,
    mc_samples, sample_length, temperature, top_p and max_computation_time, with its defaults
    and ranges."""

    lambda_cost: float = param(0.05, float, 0.0, 10.0)
    """Information cost threshold (nats): continue iff EIG > lambda_cost."""

    mc_samples: int = param(5, int, 1, 20)
    """Monte Carlo continuations drawn to forecast the next posterior."""

    sample_length: int = param(64, int, 1, 512)
    """Tokens per Monte Carlo continuation."""

    top_p: float = param(0.9, float, 0.1, 1.0)
    """Nucleus sampling of the MC continuations (the forecasts of further thinking)."""


class EIGReasoning(PosteriorScaler):
    name = "expected_information_gain_reasoning"
    params_class = EIGParams
    label = "EIG"
    colour = "#d62728"
    modules = ("eigscale.scalers.eig_reasoning", "eigscale.scalers.posterior",
               "eigscale.scalers.thinking", "eigscale.eig")
    stop_reasons = ("eig_stop",)
    replay_vary = "lambda_cost"
    params: EIGParams

    def forecasts(self) -> int:
        return self.params.mc_samples

    def forecast_length(self) -> int:
        return self.params.sample_length

    def forecast_request(self, ctx: RunContext, q: Pending) -> GenerateRequest:
        p = self.params
        return GenerateRequest(q.forecast_from, max_tokens=p.sample_length, n=p.mc_samples,
                               temperature=p.temperature, top_p=p.top_p,
                               seed=derive_seed(p.seed, q.thought.record.uid, q.decision.index,
                                                "mc"),
                               stop=ctx.thinking_stops)

    def judge(self, d: Decision, p_now: np.ndarray, h: np.ndarray) -> bool:
        res = eig_from_entropies(p_now, float(h[0]), h[1:])
        d.posterior = [float(x) for x in res.posterior]
        d.entropy, d.expected_next_entropy, d.eig = (res.entropy, res.expected_next_entropy,
                                                     res.eig)
        return self.goes_on(d)

    @property
    def threshold(self) -> float:
        return self.params.lambda_cost

    def score_of(self, d: Decision) -> float | None:
        return d.eig
