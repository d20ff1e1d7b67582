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

from .helpers import ScriptedEngine, verdict


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


EIG_NAME = "expected_information_gain_reasoning"
EIG = {"thinking_format": "plain", "beam_size": 4, "mc_samples": 2, "sample_length": 4,
       "step_tokens": 8, "max_tokens_thinking": 16, "min_answer_tokens": 4,
       "answer_kind": "integer"}
ENTROPY = {k: v for k, v in EIG.items() if k not in ("mc_samples", "sample_length")}


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


def test_a_candidates_class_is_what_the_grader_reads_in_the_response_it_would_make(tokenizer):
    # on its own the sentence's last number is 6; after the exit's "the final answer is" the
    # grader reads 5 (the line's first number), and "5," is 5
    from eigscale.grading import Response
    from eigscale.lmeval.tasks.utils import process_integer

    said = " Ana has 5 + 3 = 8 apples. She gives away 2 so she has 6 left over now."
    engine = ScriptedEngine(tokenizer, lambda n: [said, " 5,", "5", " 5 apples"])
    out = make_scaler("answer_entropy", {**ENTROPY, "tau": 0.0}).run(
        engine, [tokenizer.encode("Q: apples?")], 64)
    d = out.records[0].decisions[0]
    assert d.candidates == ["5"] and d.scores["counts"][0] == [4] and d.entropy == 0.0
    exit_ = "\n\nTherefore,\nthe final answer is"  # the plain format's thinking_end + prompt
    graded = process_integer({"answer": "5"}, [Response(exit_ + said, "\n\nTherefore,",
                                                        "the final answer is")])
    assert verdict(graded) == {"exact_match": 1, "unparsed": 0}


@pytest.mark.parametrize("rule,params", [
    ("expected_information_gain_reasoning", {"lambda_cost": 10.0}),
    ("answer_entropy", {"tau": 10.0}),
])
def test_no_answer_is_no_class_and_no_estimate_means_thinking_goes_on(tokenizer, rule, params):
    # eight answers with nothing gradable were one class "(none)": H = 0, and both rules
    # stopped at any threshold; now there is no estimate, and thinking goes on to the budget
    engine = ScriptedEngine(tokenizer, lambda n: ["I am not sure.", "Let me think"])
    out = make_scaler(rule, {**(EIG if rule == EIG_NAME else ENTROPY), **params}).run(
        engine, [tokenizer.encode("Q: ?")], 64)
    rec = out.records[0]
    assert rec.stop_reason == "budget" and rec.thinking_tokens == EIG["max_tokens_thinking"]
    for d in rec.decisions:
        assert d.unestimated and d.decision == "continue" and d.candidates == []
        assert d.eig is None and d.entropy is None and d.gradable[0] == 0
        assert d.unparsed[0] == EIG["beam_size"]
    assert out.summary["unestimated_decisions"] == len(rec.decisions) > 0


class Cutting(ScriptedEngine):
    """A ScriptedEngine (stand-in) whose answers stop at max_tokens, marked "length"."""

    def generate(self, requests):
        from eigscale.engines.base import Completion, GenerateResult

        out = []
        for r, res in zip(requests, super().generate(requests), strict=True):
            comps = tuple(c if len(c.token_ids) <= r.max_tokens else
                          Completion(c.token_ids[:r.max_tokens],
                                     self.decode(c.token_ids[:r.max_tokens]), "length",
                                     r.max_tokens) for c in res.completions)
            out.append(GenerateResult(comps, res.prompt_tokens, res.cached_tokens))
        return out


def test_a_cut_candidate_is_no_class_and_is_counted(tokenizer):
    # "... and then we multiply by 2 to get" cut at 8 tokens is not the answer 2
    long = " We add 3 and then we multiply by 2 to get the final count of 10 apples"
    engine = Cutting(tokenizer, lambda n: [long, " 7", " 7", " 7"])
    out = make_scaler("answer_entropy", {**ENTROPY, "tau": 0.5, "max_answer_tokens": 8}).run(
        engine, [tokenizer.encode("Q: ?")], 64)
    d = out.records[0].decisions[0]
    assert d.truncated[0] == 1 and d.gradable[0] == 3 and d.candidates == ["7"]
    assert d.entropy == 0.0 and d.decision == "stop"
    assert out.summary["candidates"]["truncated"] >= 1


def test_a_decisions_standard_error_is_recorded_and_not_zero_when_all_agree(tokenizer):
    engine = ScriptedEngine(tokenizer, lambda n: ["7"])
    out = make_scaler(EIG_NAME, {**EIG, "lambda_cost": 0.0}).run(
        engine, [tokenizer.encode("Q: ?")], 64)
    d = out.records[0].decisions[0]
    assert d.eig == pytest.approx(0.0) and d.se is not None and d.se > 0.01


def test_an_interval_decision_continues_only_on_evidence(tokenizer):
    # 2:2 now, 3:1 after the forecasts: EIG > 0 but within a standard error of it
    calls = iter([["1", "1", "2", "2"]] + [["1", "1", "1", "2"]] * 50)
    engine = ScriptedEngine(tokenizer, lambda n: next(calls))
    base = {**EIG, "lambda_cost": 0.0}
    point = make_scaler(EIG_NAME, base).run(engine, [tokenizer.encode("Q: ?")], 64)
    d = point.records[0].decisions[0]
    assert 0 < d.eig < d.se and d.decision == "continue"
    calls = iter([["1", "1", "2", "2"]] + [["1", "1", "1", "2"]] * 50)
    interval = make_scaler(EIG_NAME, {**base, "decision_mode": "interval"}).run(
        engine, [tokenizer.encode("Q: ?")], 64)
    d2 = interval.records[0].decisions[0]
    assert (d2.eig, d2.se) == (d.eig, d.se) and d2.decision == "stop"
