"""The Expected Information Gain rule, as pure functions of log-scores.

At a decision point t the model has a reasoning prefix x_t and a set C of candidate answers.

    p_t(c)      = softmax_c  log P(answer | x_t)                 posterior over C
    H_t         = -sum_c p_t(c) log p_t(c)                       (nats)
    H^j         = entropy of softmax_c log P(answer | x_t + y_j)  for MC continuations y_j
    E[H_{t+1}]  = mean_j H^j
    EIG_t       = H_t - E[H_{t+1}]            continue reasoning iff EIG_t > lambda_cost

Everything here is numpy on plain arrays: no engine, no tokenizer, no state. The scalers gather
the log-scores with batched engine calls and hand them to these functions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class NonFiniteScores(ValueError):
    """A candidate's log-score is NaN or +inf; no posterior can be formed from it."""


def posterior(log_scores: np.ndarray) -> np.ndarray:
    """Normalise log-scores over the last axis into probabilities.

    Subtracting the max before exponentiating keeps long answers (log-scores of -200 and below)
    from underflowing to an all-zero vector. -inf is allowed (probability 0); NaN and +inf are not,
    and at least one entry per row must be finite.
    """
    s = np.asarray(log_scores, dtype=np.float64)
    if np.isnan(s).any() or np.isposinf(s).any():
        raise NonFiniteScores(f"log-scores contain NaN or +inf: {s.tolist()}")
    top = s.max(axis=-1, keepdims=True)
    if not np.isfinite(top).all():
        raise NonFiniteScores(f"every log-score is -inf in some row: {s.tolist()}")
    w = np.exp(s - top)
    return w / w.sum(axis=-1, keepdims=True)


def entropy(p: np.ndarray) -> np.ndarray:
    """Shannon entropy in nats over the last axis, with 0 log 0 = 0."""
    p = np.asarray(p, dtype=np.float64)
    safe = np.where(p > 0, p, 1.0)
    return -(p * np.log(safe)).sum(axis=-1)


@dataclass(frozen=True)
class EIGResult:
    """One decision's numbers. `posterior` is p_t over the candidates, in their given order."""

    posterior: np.ndarray
    entropy: float
    expected_next_entropy: float
    eig: float

    def should_continue(self, lambda_cost: float) -> bool:
        """The rule itself: keep thinking only if the expected gain pays for its cost."""
        return self.eig > lambda_cost


def expected_information_gain(now: np.ndarray, forecasts: np.ndarray) -> EIGResult:
    """EIG from the candidates' log-scores now (shape [C]) and after each MC continuation ([M, C]).

    The same candidate set C is scored in every context, so the entropies are comparable.
    """
    now = np.asarray(now, dtype=np.float64)
    forecasts = np.asarray(forecasts, dtype=np.float64)
    if now.ndim != 1 or forecasts.ndim != 2 or forecasts.shape[1] != now.shape[0]:
        raise ValueError(f"shapes do not match: now {now.shape}, forecasts {forecasts.shape}")
    if forecasts.shape[0] == 0:
        raise ValueError("at least one Monte Carlo forecast is needed")
    p_now = posterior(now)
    h_now = float(entropy(p_now))
    h_next = float(entropy(posterior(forecasts)).mean())
    return EIGResult(posterior=p_now, entropy=h_now, expected_next_entropy=h_next,
                     eig=h_now - h_next)
