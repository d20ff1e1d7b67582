"""The scalers on both real engines: budget caps, "Wait" extensions, EIG decisions, batching."""

import math

import pytest

from eigscale.scalers import make_scaler

from .helpers import GEN, PLAIN, QUESTIONS, SMALL_EIG, TAIL, chat_prompts, split_forced

pytestmark = pytest.mark.engine

def test_none_is_plain_generation(engine):
    p = chat_prompts(engine, QUESTIONS[:2])
    out = make_scaler("none").run(engine, p, 48)
    assert all(t.strip() for t in out.texts)
    # without a thinking_end (a model with no thinking section) all of it counts as thinking
    assert all(r.answer_tokens == 0 and 0 < r.thinking_tokens <= 48 for r in out.records)
    assert out.summary["tokens"]["thinking"] == sum(r.thinking_tokens for r in out.records)


def test_budget_forcing_respects_its_cap_and_always_answers(engine):
    cap = 40
    out = make_scaler("budget_forcing", {**PLAIN, "max_tokens_thinking": cap}).run(
        engine, chat_prompts(engine), GEN)
    assert len(out.texts) == len(QUESTIONS)
    for text, rec in zip(out.texts, out.records, strict=True):
        assert 0 < rec.thinking_tokens <= cap
        thinking, sep, answer = split_forced(text, rec.stop_reason)
        assert sep, f"no forced answer in {text!r}"
        assert thinking == rec.thinking and thinking.strip()
        assert answer.strip() and rec.answer_tokens > 0
    assert "budget" in out.summary["stop_reasons"]


def test_budget_auto_leaves_room_for_the_answer(engine):
    out = make_scaler("budget_forcing", PLAIN).run(engine, chat_prompts(engine, QUESTIONS[:2]), 80)
    n_tail = len(engine.encode(TAIL))
    assert n_tail > 0
    assert out.summary["budget"] == 80 - 48 - n_tail  # max_gen_toks - answer room - prompt
    assert all(r.thinking_tokens + r.answer_tokens <= 80 for r in out.records)


def test_thinking_n_ignore_extends_twice(engine):
    out = make_scaler("budget_forcing", {**PLAIN, "max_tokens_thinking": 150,
                                         "thinking_n_ignore": 2}).run(
        engine, chat_prompts(engine, QUESTIONS[:4]), GEN)
    twice = [r for r in out.records if r.extensions == 2]
    assert twice, "no question reached two natural ends within 150 tokens"
    for r in out.records:
        # each natural end before the budget is ignored, twice, then thinking may end
        assert r.extensions == 2 or r.stop_reason == "budget"
        assert r.thinking.count("Wait") >= r.extensions
        assert r.stop_reason != "natural_end" or r.extensions == 2


def test_eig_on_four_questions_records_finite_decisions(engine):
    # four questions on vLLM; two on transformers, whose EIG rounds cost four times as much
    # (what is asserted holds for each decision on its own; batching has its own tests below)
    n = 2 if engine.__class__.__name__ == "HFEngine" else 4
    out = make_scaler("expected_information_gain_reasoning", SMALL_EIG).run(
        engine, chat_prompts(engine, QUESTIONS[:n]), GEN)
    assert out.summary["decisions"] > 0 and out.summary["failures"] == {}
    need = min(SMALL_EIG.get("min_gradable", 2), SMALL_EIG["beam_size"])
    estimated = 0
    for text, rec in zip(out.texts, out.records, strict=True):
        assert rec.decisions
        for d in rec.decisions:
            # every answer drawn is gradable, unparsed or cut; what is not gradable is no class
            assert [g + u + t for g, u, t in zip(d.gradable, d.unparsed, d.truncated,
                                                 strict=True)] == [SMALL_EIG["beam_size"]] * (
                1 + SMALL_EIG["mc_samples"])
            assert d.gradable == [sum(row) for row in d.scores["counts"]]
            if d.unestimated:  # too few gradable answers: no estimate, thinking goes on
                assert d.eig is None and d.decision in ("continue", "extend")
                assert d.gradable[0] < need or all(g < need for g in d.gradable[1:])
                continue
            estimated += 1
            assert math.isfinite(d.entropy) and math.isfinite(d.eig) and d.se > 0
            k, m = SMALL_EIG["beam_size"], len(d.candidates)
            # Miller-Madow: the plug-in entropy plus (classes seen - 1) / 2n, n gradable
            assert 0 <= d.entropy <= math.log(m) + (m - 1) / (2 * d.gradable[0]) + 1e-9
            # classes kept from earlier decisions (at most K) and those seen in any context now
            assert 1 <= m <= (2 + SMALL_EIG["mc_samples"]) * k
            assert len(set(d.candidates)) == m  # one entry per class, never per spelling
            assert sum(d.posterior) == pytest.approx(1.0)
            assert sum(d.scores["counts"][0]) == d.gradable[0] >= need
            assert d.decision == ("stop" if d.eig <= SMALL_EIG["lambda_cost"] else
                                  "continue" if d.kind == "step" else "extend")
        thinking, sep, answer = split_forced(text, rec.stop_reason)
        assert sep and thinking.strip() and answer.strip()
        assert rec.thinking_tokens <= SMALL_EIG["max_tokens_thinking"]
    assert estimated > 0
    s = out.summary
    assert s["eig"]["min"] <= s["eig"]["mean"] <= s["eig"]["max"]
    assert s["tokens"]["candidate"] > 0 and s["tokens"]["mc"] > 0


def test_decision_round_costs_do_not_grow_with_batch_size(vllm_engine):
    # the scaler's batching, not the engine's: one engine is enough
    engine = vllm_engine
    runs = {}
    for n in (1, 8):
        before = engine.counters.calls
        out = make_scaler("expected_information_gain_reasoning",
                          {**SMALL_EIG, "lambda_cost": 0.0, "max_tokens_thinking": 48}).run(
            engine, chat_prompts(engine, QUESTIONS[:n]), 256)
        calls = {d.engine_calls for r in out.records for d in r.decisions}
        assert calls == {2}, calls  # one generate (candidates + MC) and one score per round
        runs[n] = (engine.counters.calls - before, out)
    # total calls: reasoning rounds + decision rounds + one forced-answer call, at most
    # 2 rounds per 24-token step for 48 tokens, whatever the batch size
    assert runs[8][0] <= 2 * 3 + 1 + 2
    assert runs[1][0] <= runs[8][0]


def test_lockstep_decisions_do_not_depend_on_the_batch(vllm_engine):
    # the same question alone and among others: same seeds, same decisions
    p = chat_prompts(vllm_engine, QUESTIONS[:3])
    sc = make_scaler("expected_information_gain_reasoning", SMALL_EIG)
    alone = sc.run(vllm_engine, p[2:], GEN).records[0]
    mixed = sc.run(vllm_engine, p, GEN).records[2]
    assert [d.candidates for d in alone.decisions] == [d.candidates for d in mixed.decisions]
    assert [d.decision for d in alone.decisions] == [d.decision for d in mixed.decisions]
    for a, b in zip(alone.decisions, mixed.decisions, strict=True):
        assert a.eig == pytest.approx(b.eig, abs=1e-3)
