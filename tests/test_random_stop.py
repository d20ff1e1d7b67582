"""random_stop, the control for a rule's timing, on scripted traces (ScriptedEngine, a stand-in
named as such: it tests the rule's draws and cuts, not a model; the trace runs to the budget)."""

from __future__ import annotations

import pytest

from eigscale.scalers import make_scaler
from eigscale.scalers.random_stop import draw
from eigscale.scalers.replay import replay

from .helpers import ScriptedEngine

STEP, CAP = 16, 128
PARAMS = {"thinking_format": "plain", "step_tokens": STEP, "max_tokens_thinking": CAP,
          "min_answer_tokens": 16}
PROMPTS = [[1, 2, k] for k in range(40)]


@pytest.fixture(scope="module")
def engine(model_dir):
    from transformers import AutoTokenizer

    return ScriptedEngine(AutoTokenizer.from_pretrained(model_dir), lambda _n: ["7"])


def run(engine, p: float, prompts=PROMPTS):
    return make_scaler("random_stop", {**PARAMS, "stop_probability": p}).run(
        engine, prompts, 400)


def test_it_stops_at_the_first_point_whose_seeded_draw_falls_below_p(engine):
    out = run(engine, 0.3)
    for rec in out.records:
        points = [d.thinking_tokens for d in rec.decisions]
        assert points == list(range(STEP, STEP * len(points) + 1, STEP))  # the grid
        draws = [draw(1234, rec.uid, at) for at in points]
        assert [d.scores["u"] for d in rec.decisions] == draws  # seeded by question and point
        first = next((at for at, u in zip(points, draws, strict=True) if u < 0.3), None)
        if first is None:  # no draw fell below p before the cap
            assert rec.stop_reason == "budget" and rec.thinking_tokens == CAP
            assert all(u >= 0.3 for u in draws)
        else:
            assert rec.stop_reason == "random_stop" and rec.thinking_tokens == first
            assert [d.decision for d in rec.decisions][-1] == "stop"
        assert rec.tokens["candidate"] == rec.tokens["probe"] == 0  # no side tokens
    reasons = {r.stop_reason for r in out.records}
    assert reasons == {"random_stop", "budget"}


def test_its_stopping_time_is_geometric_in_p(engine):
    # the share that stops at the first point is p; 0 never stops early, 1 stops at once
    for p, lo, hi in ((0.0, 0, 0), (0.25, 0.1, 0.4), (1.0, 1, 1)):
        recs = run(engine, p).records
        at_first = sum(r.thinking_tokens == STEP for r in recs) / len(recs)
        assert lo <= at_first <= hi, (p, at_first)


def test_a_replayed_sweep_is_the_live_runs(engine):
    ps = (0.1, 0.3, 0.6)
    scalers = [make_scaler("random_stop", {**PARAMS, "stop_probability": p}) for p in ps]
    replayed = replay(engine, scalers, PROMPTS, 400)
    assert replayed[0].summary["replay"]["trace_params"]["stop_probability"] == 0.1
    for p, rep in zip(ps, replayed, strict=True):
        live = run(engine, p)
        assert rep.texts == live.texts
        for a, b in zip(rep.records, live.records, strict=True):
            assert (a.thinking_tokens, a.stop_reason, a.tokens) == \
                (b.thinking_tokens, b.stop_reason, b.tokens)
            assert [(d.thinking_tokens, d.decision, d.scores) for d in a.decisions] == \
                [(d.thinking_tokens, d.decision, d.scores) for d in b.decisions]
    # a larger probability never thinks longer on the same question
    thinking = [[r.thinking_tokens for r in out.records] for out in replayed]
    assert all(x >= y >= z for x, y, z in zip(*thinking, strict=True))
    assert thinking[0] != thinking[2]
