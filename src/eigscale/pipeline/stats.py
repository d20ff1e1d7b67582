"""Paired statistics over questions: bootstrap intervals, exact McNemar, Holm.

Every rule answers the same questions, so rules are compared question by question: one set of
resamples (question indices drawn with replacement, seeded) is shared by every rule of a
(model, task), and a difference is computed inside each resample. Intervals are percentile
intervals. One greedy trace per question gives question-level variance only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def resample_weights(n: int, resamples: int, seed: int) -> np.ndarray:
    """(resamples, n) counts: how often each question is drawn in each resample of n."""
    rng = np.random.default_rng(seed)
    return rng.multinomial(n, np.full(n, 1.0 / n), size=resamples).astype(float)


def interval(values: np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    """The percentile interval of bootstrap values (NaN resamples left out)."""
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    if not len(values):
        return float("nan"), float("nan")
    tail = 100 * (1 - confidence) / 2
    lo, hi = np.percentile(values, [tail, 100 - tail])
    return float(lo), float(hi)


def mean_interval(x: np.ndarray, weights: np.ndarray, confidence: float = 0.95
                  ) -> tuple[float, float, float]:
    """(mean, low, high) of a per-question quantity: its mean over the questions, and the
    interval of its mean over the resamples (weights: resample_weights)."""
    x = np.asarray(x, dtype=float)
    return (float(x.mean()), *interval(weights @ x / weights.sum(axis=1), confidence))


def bootstrap_p(values: np.ndarray) -> float:
    """Two-sided bootstrap p of "the difference is 0", from the same resamples as the
    percentile interval: p < 1 - confidence exactly when the interval excludes 0."""
    v = np.asarray(values, float)
    v = v[~np.isnan(v)]
    if not len(v):
        return float("nan")
    return float(min(1.0, 2 * min((v <= 0).mean(), (v >= 0).mean())))


def mcnemar(a: Sequence[int], b: Sequence[int]) -> tuple[int, int, float]:
    """Exact McNemar test of two paired 0/1 outcomes: (a right b wrong, a wrong b right,
    two-sided p = the binomial(n01 + n10, 1/2) probability of a split at least this uneven)."""
    a, b = np.asarray(a, dtype=int), np.asarray(b, dtype=int)
    n10, n01 = int(((a == 1) & (b == 0)).sum()), int(((a == 0) & (b == 1)).sum())
    n = n10 + n01
    if n == 0:
        return n10, n01, 1.0
    tail = sum(math.comb(n, k) for k in range(min(n10, n01) + 1))
    return n10, n01, min(1.0, 2 * tail / 2**n)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (same order as given; NaN stays NaN)."""
    p = np.asarray(pvalues, dtype=float)
    valid = np.flatnonzero(~np.isnan(p))
    order = valid[np.argsort(p[valid], kind="stable")]
    m = len(order)
    out = np.full(len(p), np.nan)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out.tolist()
