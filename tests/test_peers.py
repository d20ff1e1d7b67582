"""The field's other stopping rules, decision logic on scripted traces (ScriptedEngine, a
stand-in named as such: it tests the rules, not a model). Replay equals live for each on the
real vLLM engine is in test_replay.py."""

from __future__ import annotations

import math

import pytest

from eigscale.scalers import make_scaler

from .helpers import ScriptedEngine

ENTROPY = {"thinking_format": "plain", "beam_size": 4, "step_tokens": 16,
           "max_tokens_thinking": 128, "min_answer_tokens": 16, "tau": 0.5}


@pytest.fixture(scope="module")
def tokenizer(model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model_dir)


def calls_then(first: list[list[str]], then: list[str]):
    """answers(context) for a ScriptedEngine: the i-th answer request gets first[i], later
    ones `then`."""
    seen = []

    def answers(_n: int) -> list[str]:
        seen.append(1)
        return first[len(seen) - 1] if len(seen) <= len(first) else then
    return answers


def test_answer_entropy_stops_at_the_first_checkpoint_at_or_below_tau(tokenizer):
    spread = ["1", "2", "3", "4"]  # four classes: H = log 4 + 3/8 (Miller-Madow)
    engine = ScriptedEngine(tokenizer, calls_then([spread, spread], ["7"]))
    out = make_scaler("answer_entropy", ENTROPY).run(engine, [[1, 2, 3]], 200)
    rec = out.records[0]
    assert [d.decision for d in rec.decisions] == ["continue", "continue", "stop"]
    assert rec.stop_reason == "entropy_stop" and rec.thinking_tokens == 3 * 16
    h = [d.entropy for d in rec.decisions]
    assert h[0] == pytest.approx(math.log(4) + 3 / 8) and h[2] == 0.0
    for d in rec.decisions:
        assert d.eig is None and d.tokens["mc"] == 0  # no forecasts: only the level counts
        assert d.context_entropies == [d.entropy]


def test_answer_entropy_at_tau_stops_and_above_it_continues(tokenizer):
    two = ["1", "1", "2", "2"]  # H = log 2 + 1/8
    h = math.log(2) + 1 / 8
    for tau, first in ((h + 1e-9, "stop"), (h - 1e-3, "continue")):
        engine = ScriptedEngine(tokenizer, lambda _n: two)
        out = make_scaler("answer_entropy", {**ENTROPY, "tau": tau}).run(engine, [[1, 2]], 200)
        assert out.records[0].decisions[0].decision == first


def test_answer_entropy_never_stops_below_a_settled_answer_it_never_sees(tokenizer):
    spread = ["1", "2", "3", "4"]
    engine = ScriptedEngine(tokenizer, lambda _n: spread)
    out = make_scaler("answer_entropy", ENTROPY).run(engine, [[1, 2, 3]], 200)
    rec = out.records[0]
    assert rec.stop_reason == "budget" and rec.thinking_tokens == 128
    assert all(d.decision == "continue" for d in rec.decisions)
