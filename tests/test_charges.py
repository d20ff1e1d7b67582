"""Every token charged, from the engine: a live run's per-question charges (each request's
uncached prompt tokens and decoded tokens, EOS and stop tokens included, by purpose) add up
exactly to the engine's own counters, for every rule on both real engines."""

from __future__ import annotations

import pytest

from eigscale.compute import question_cost
from eigscale.records import CHARGE_KINDS
from eigscale.scalers import SCALERS, make_scaler

from .helpers import PLAIN, QUESTIONS, SMALL_EIG, chat_prompts

pytestmark = pytest.mark.engine

CAP = {**PLAIN, "max_tokens_thinking": 32, "min_answer_tokens": 24}
RULES = {  # small, so that each rule makes every kind of request it can, a few times
    "none": {},
    "budget_forcing": {**CAP, "thinking_n_ignore": 1},
    "expected_information_gain_reasoning": {**SMALL_EIG, **CAP, "beam_size": 3,
                                            "mc_samples": 2, "sample_length": 8,
                                            "step_tokens": 16, "max_answer_tokens": 16},
    "answer_entropy": {**CAP, "beam_size": 3, "step_tokens": 16, "tau": 0.3,
                       "max_answer_tokens": 16},
    "dynasor_cot": {**CAP, "probe_interval": 16, "window": 2},
    "deer": {**CAP, "transition": ".", "threshold": 0.99},
    "random_stop": {**CAP, "step_tokens": 16, "stop_probability": 0.3},
    "eat": {**CAP, "max_tokens_thinking": 48, "timescale": 0.5, "warmup": 1, "delta": 0.3},
}


def test_every_rule_is_charged_here():
    assert set(RULES) == set(SCALERS)


@pytest.mark.parametrize("rule", list(RULES))
def test_a_live_runs_charges_add_up_to_the_engines_counters(engine, rule):
    scored = rule == "expected_information_gain_reasoning" and engine.__class__.__name__ == \
        "VLLMEngine"
    params = {**RULES[rule], **({"posterior_estimator": "scored"} if scored else {})}
    out = make_scaler(rule, params).run(engine, chat_prompts(engine, QUESTIONS[:2]), 64)
    counters = out.summary["engine"]
    prefill = sum(sum(r.prefill.values()) for r in out.records)
    decoded = sum(sum(r.decoded.values()) for r in out.records)
    assert prefill == counters["prompt_tokens"] - counters["cached_tokens"] > 0
    assert decoded == counters["decode_tokens"] > 0
    assert set().union(*(r.prefill for r in out.records)) <= set(CHARGE_KINDS)
    for r in out.records:  # what the compute axis counts is exactly the charge
        cost = question_cost(r.to_dict())
        assert cost["generated"] == sum(r.decoded.values())
        assert cost["prefilled"] == sum(r.prefill.values())
    if rule not in ("none", "budget_forcing", "random_stop"):  # decisions are charged too
        assert any(sum(d.decoded.values()) for r in out.records for d in r.decisions)
