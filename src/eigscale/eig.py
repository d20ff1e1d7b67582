"""The Expected Information Gain rule, as pure functions of scores and counts.

At a decision point t the model has a reasoning prefix x_t. The random variable is its answer
*class* A: answers the task's own grader calls equal are one class (spellings are never
outcomes). In each context c (x_t itself, and x_t + y_j for Monte Carlo continuations y_j):

    p_c(a)      posterior over the classes, by one of two estimators (below)
    H_c         = -sum_a p_c(a) log p_c(a)                               (nats)
    H_t         = H_{x_t},   E[H_{t+1}] = mean_j H_{x_t + y_j}
    EIG_t       = H_t - E[H_{t+1}]            continue reasoning iff EIG_t > lambda_cost

Estimators of p_c:

- *scored*: the answers the model wrote (its sampled surface forms, token for token) are
  teacher-forced in c; a class's probability is the sum over its forms (log-sum-exp), and the
  probability no form covers is one more outcome, "other". One class seen therefore no longer
  means H = 0: H is 0 only if that class's forms hold all the mass.
- *sampled*: K answers drawn in c, classified; the class frequencies, with the Miller-Madow
  correction H + (m - 1) / 2K (m = classes seen) for the plug-in estimator's downward bias at
  small K.

Everything here is numpy on plain arrays: no engine, no tokenizer, no state. The scaler gathers
the scores or counts with batched engine calls and hands them to these functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from eigscale.errors import EigscaleError


class NonFiniteScores(EigscaleError, ValueError):
    """A log-score is NaN or +inf; no posterior can be formed from it."""


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


def pooled_posterior(form_logprobs: np.ndarray, form_class: Sequence[int],
                     n_classes: int) -> np.ndarray:
    """Scored estimator. form_logprobs [..., F]: log P(form | context) of each surface form;
    form_class[f]: its class. Returns [..., n_classes + 1]: each class's summed probability,
    then "other", the mass no form covers (0 when rounding makes the forms cover more than 1,
    in which case the classes are renormalised)."""
    s = np.asarray(form_logprobs, dtype=np.float64)
    if np.isnan(s).any() or np.isposinf(s).any():
        raise NonFiniteScores(f"log-scores contain NaN or +inf: {s.tolist()}")
    idx = np.asarray(form_class, dtype=np.int64)
    if s.shape[-1] != idx.shape[0] or (idx < 0).any() or (idx >= n_classes).any():
        raise ValueError(f"form classes {idx.tolist()} do not fit {s.shape} and {n_classes}")
    probs = np.zeros((*s.shape[:-1], n_classes + 1))
    for c in range(n_classes):  # log-sum-exp per class, kept in probability space after
        member = s[..., idx == c]
        if member.shape[-1]:
            top = member.max(axis=-1, keepdims=True)
            safe = np.where(np.isfinite(top), top, 0.0)
            probs[..., c] = np.where(np.isfinite(top[..., 0]),
                                     np.exp(safe[..., 0]) * np.exp(member - safe).sum(-1), 0.0)
    covered = probs[..., :n_classes].sum(axis=-1)
    over = covered > 1.0
    probs[..., :n_classes] /= np.where(over, covered, 1.0)[..., None]
    probs[..., n_classes] = np.clip(1.0 - np.minimum(covered, 1.0), 0.0, 1.0)
    return probs


def counts_entropy(counts: np.ndarray) -> np.ndarray:
    """Sampled estimator: Miller-Madow entropy (nats) of class counts over the last axis."""
    c = np.asarray(counts, dtype=np.float64)
    n = c.sum(axis=-1)
    if (n <= 0).any():
        raise ValueError("every context needs at least one sampled answer")
    seen = (c > 0).sum(axis=-1)
    return entropy(c / n[..., None]) + (seen - 1) / (2 * n)


def score_standard_error(counts_now: np.ndarray, forecast_entropies: np.ndarray,
                         rng: np.random.Generator, draws: int = 256) -> float:
    """Standard error of a sampled decision's score (EIG = H_now - mean of the forecasts'
    entropies; with no forecasts, H_now itself). H_now's part: the spread of the entropy under
    a Dirichlet posterior over the class probabilities (the counts + 1/2 over the classes seen
    and one class not seen, so K agreeing answers do not claim certainty); the forecasts' part:
    their entropies' sample variance over M (the forecasts and their answers are both draws)."""
    c = np.asarray(counts_now, dtype=np.float64)
    alpha = np.append(c[c > 0], 0.0) + 0.5
    var_now = float(entropy(rng.dirichlet(alpha, size=draws)).var())
    h = np.asarray(forecast_entropies, dtype=np.float64)
    var_next = float(h.var(ddof=1)) / len(h) if len(h) > 1 else 0.0
    return float(np.sqrt(var_now + var_next))


@dataclass(frozen=True)
class EIGResult:
    """One decision's numbers. `posterior` is p_t over the classes (and "other", if scored)."""

    posterior: np.ndarray
    entropy: float
    expected_next_entropy: float
    eig: float

    def should_continue(self, lambda_cost: float) -> bool:
        """The rule itself: keep thinking only if the expected gain pays for its cost."""
        return self.eig > lambda_cost


def eig_from_entropies(p_now: np.ndarray, h_now: float, h_next: np.ndarray) -> EIGResult:
    """EIG from the entropy now and after each MC continuation ([M], at least one)."""
    h_next = np.asarray(h_next, dtype=np.float64)
    if h_next.ndim != 1 or h_next.shape[0] == 0:
        raise ValueError("at least one Monte Carlo forecast is needed")
    vals = np.append(h_next, h_now)
    if not np.isfinite(vals).all():
        raise NonFiniteScores(f"entropies {h_now}, {h_next.tolist()}")
    return EIGResult(posterior=np.asarray(p_now), entropy=float(h_now),
                     expected_next_entropy=float(h_next.mean()),
                     eig=float(h_now - h_next.mean()))


def expected_information_gain(now: np.ndarray, forecasts: np.ndarray) -> EIGResult:
    """EIG from log-scores over a fixed set of outcomes now ([C]) and after each MC
    continuation ([M, C]), each row normalised over the outcomes (the softmax posterior)."""
    now = np.asarray(now, dtype=np.float64)
    forecasts = np.asarray(forecasts, dtype=np.float64)
    if now.ndim != 1 or forecasts.ndim != 2 or forecasts.shape[1] != now.shape[0]:
        raise ValueError(f"shapes do not match: now {now.shape}, forecasts {forecasts.shape}")
    if forecasts.shape[0] == 0:
        raise ValueError("at least one Monte Carlo forecast is needed")
    p_now = posterior(now)
    return eig_from_entropies(p_now, float(entropy(p_now)), entropy(posterior(forecasts)))
