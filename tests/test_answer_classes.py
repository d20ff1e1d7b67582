"""EIG over answer classes, not spellings: the maths of both estimators, and the scaler's
decisions on a scripted engine (a stand-in that replays fixed answers and scores, named as such:
it tests the decision logic, not a model)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from eigscale.eig import counts_entropy, entropy, pooled_posterior
from eigscale.engines.base import (
    ScoreResult,
)
from eigscale.grading import answer_class
from eigscale.scalers import make_scaler

from .helpers import ScriptedEngine


def test_spellings_of_one_answer_are_one_class():
    spellings = ["4 * 8 = 32 books in all", "4 * 8 = 32 books", "4 x 8 = 32 books", " 32."]
    assert {answer_class(s, "integer") for s in spellings} == {"32"}
    assert {answer_class(s, "choice") for s in ["(B)", "\\boxed{B}", "Option B"]} == {"B"}
    assert answer_class("no idea", "integer") is None


def test_forms_pool_by_class_and_the_uncovered_mass_is_other():
    # two forms of class 0 (p .3 and .2), one of class 1 (p .1): other = .4
    p = pooled_posterior(np.log([[0.3, 0.2, 0.1]]), [0, 0, 1], 2)[0]
    assert p == pytest.approx([0.5, 0.1, 0.4])
    # one class seen is not certainty: H = 0 only if its forms hold all the mass
    single = pooled_posterior(np.log([[0.6]]), [0], 1)[0]
    assert single == pytest.approx([0.6, 0.4]) and entropy(single) > 0.6
    assert entropy(pooled_posterior(np.log([[1.0]]), [0], 1)[0]) == pytest.approx(0)


def test_sampled_entropy_has_the_miller_madow_correction():
    assert float(counts_entropy(np.array([8, 0, 0]))) == 0.0
    c = np.array([4, 4])
    assert float(counts_entropy(c)) == pytest.approx(math.log(2) + 1 / 16)


@pytest.fixture(scope="module")
def tokenizer(model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model_dir)


EIG = {"thinking_format": "plain", "beam_size": 4, "mc_samples": 2, "sample_length": 4,
       "step_tokens": 8, "max_tokens_thinking": 16, "min_answer_tokens": 4,
       "answer_kind": "integer"}


@pytest.mark.parametrize("estimator", ["sampled", "scored"])
def test_no_decision_holds_two_candidates_the_grader_calls_equal(tokenizer, estimator):
    engine = ScriptedEngine(tokenizer, lambda n: ["4 * 8 = 32 books in all", "4 x 8 = 32 books",
                                                  "32", "4 * 8 = 31 books"])
    out = make_scaler("expected_information_gain_reasoning",
                      {**EIG, "posterior_estimator": estimator, "lambda_cost": 0.0}).run(
        engine, [tokenizer.encode("Q: 4 boxes of 8 books?")], 64)
    for d in out.records[0].decisions:
        real = [c for c in d.candidates if c != "(other)"]
        assert sorted(real) == ["31", "32"], d.candidates
        assert d.estimator == estimator
        assert len(d.context_entropies) == 1 + EIG["mc_samples"]


def test_sampled_counts_classes_not_spellings(tokenizer):
    # three spellings of 32 and one 31 in every context: H is that of 3:1, not of 4 spellings
    engine = ScriptedEngine(tokenizer, lambda n: ["4 * 8 = 32 books in all", "4 x 8 = 32 books",
                                                  "32", "4 * 8 = 31 books"])
    out = make_scaler("expected_information_gain_reasoning",
                      {**EIG, "posterior_estimator": "sampled"}).run(
        engine, [tokenizer.encode("Q: 4 boxes of 8 books?")], 64)
    d = out.records[0].decisions[0]
    expected = float(counts_entropy(np.array([3, 1])))
    assert d.entropy == pytest.approx(expected) and d.scores["counts"][0] == [3, 1]
    assert d.eig == pytest.approx(0.0)


def test_one_class_does_not_force_a_stop_when_the_forecasts_are_surer(tokenizer):
    # every candidate says 32 now (|C| = 1), but the scored forms cover only part of the mass
    # at x_t; after the forecasts they cover more: EIG > 0 and thinking continues
    def logprob(form: str) -> float:
        return math.log(0.5)

    class Sharper(ScriptedEngine):
        def score(self, requests):
            base = super().score(requests)
            n = len(requests) // (1 + EIG["mc_samples"])
            return [ScoreResult(math.log(0.5) if i < n else math.log(0.95), r.prompt_tokens, 0)
                    for i, r in enumerate(base)]

    engine = Sharper(tokenizer, lambda n: ["32"], logprob)
    out = make_scaler("expected_information_gain_reasoning",
                      {**EIG, "posterior_estimator": "scored", "lambda_cost": 0.05}).run(
        engine, [tokenizer.encode("Q: 4 boxes of 8 books?")], 64)
    d = out.records[0].decisions[0]
    assert d.candidates == ["32", "(other)"] and d.entropy > 0.6
    assert d.eig > 0.05 and d.decision == "continue"
