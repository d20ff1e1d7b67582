"""Property tests of the EIG maths (eigscale.eig): pure functions, no model."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from eigscale.eig import NonFiniteScores, entropy, expected_information_gain, posterior

logs = st.floats(min_value=-300, max_value=50, allow_nan=False)


@given(arrays(np.float64, st.integers(1, 20), elements=logs))
def test_posterior_sums_to_one_and_entropy_is_bounded(s):
    p = posterior(s)
    assert p.sum() == pytest.approx(1.0, abs=1e-12)
    assert (p >= 0).all()
    h = float(entropy(p))
    assert -1e-12 <= h <= math.log(len(s)) + 1e-9


@given(st.integers(1, 20), st.floats(-500, 50))
def test_uniform_scores_give_maximal_entropy(n, value):
    assert float(entropy(posterior(np.full(n, value)))) == pytest.approx(math.log(n), abs=1e-9)


@given(arrays(np.float64, st.integers(2, 10), elements=logs), st.integers(1, 8))
def test_certain_posterior_has_zero_eig(rest, m):
    # one candidate overwhelmingly likely now and in every forecast: nothing left to learn
    now = np.concatenate([[0.0], rest - 1000.0])
    result = expected_information_gain(now, np.tile(now, (m, 1)))
    assert abs(result.eig) < 1e-6
    assert not result.should_continue(0.0)


@given(st.integers(2, 12), st.integers(1, 8), st.floats(0.0, 5.0))
def test_informative_forecast_gives_positive_eig(n, m, lam):
    # uncertain now; every forecast is near-certain (about some candidate): EIG ~ log n
    now = np.zeros(n)
    forecasts = np.full((m, n), -60.0)
    for j in range(m):
        forecasts[j, j % n] = 0.0
    result = expected_information_gain(now, forecasts)
    assert result.eig > 0
    assert result.eig == pytest.approx(math.log(n), abs=1e-6)
    assert result.should_continue(lam) == (math.log(n) > lam)


@given(arrays(np.float64, st.integers(1, 8), elements=logs),
       arrays(np.float64, st.integers(1, 6), elements=logs))
def test_eig_is_entropy_now_minus_mean_entropy_next(now, noise):
    forecasts = np.stack([now + k for k in noise])  # same shape of posterior, shifted
    result = expected_information_gain(now, forecasts)
    assert result.eig == pytest.approx(0.0, abs=1e-9)
    assert result.entropy == pytest.approx(float(entropy(posterior(now))))


def test_log_scores_far_below_zero_do_not_underflow():
    p = posterior(np.array([-1000.0, -1001.0]))
    assert p[0] == pytest.approx(1 / (1 + math.exp(-1)))


def test_minus_infinity_is_probability_zero():
    p = posterior(np.array([0.0, -np.inf]))
    assert p.tolist() == [1.0, 0.0]


@pytest.mark.parametrize("bad", [[0.0, float("nan")], [float("inf"), 0.0], [-np.inf, -np.inf]])
def test_non_finite_scores_are_refused(bad):
    with pytest.raises(NonFiniteScores):
        posterior(np.array(bad))


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="shapes"):
        expected_information_gain(np.zeros(3), np.zeros((2, 4)))
