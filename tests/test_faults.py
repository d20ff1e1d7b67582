"""Faults inside a run stay inside one question; same seed, same decisions."""

from __future__ import annotations

import math
import time

import pytest

from eigscale.engines.base import Engine, EngineFailure, ScoreResult
from eigscale.scalers import make_scaler

from .helpers import GEN, QUESTIONS, chat_prompts, split_forced
from .helpers import SMALL_EIG as SAMPLED_EIG

# the faults injected into score calls need the estimator that scores
SMALL_EIG = {**SAMPLED_EIG, "posterior_estimator": "scored"}

pytestmark = pytest.mark.engine


class FaultyEngine(Engine):
    """A real engine behind a wrapper that injects faults (a test double of the failures
    themselves, not of the engine): NaN scores for requests whose prefix starts with one of
    `nan_prompts`, an exception on the score calls numbered in `raise_on_score`, a delay of
    `slow_score[k]` seconds on score call k (`slow_generate[k]` after generate call k), and an
    exception on every generate call from number `die_on_generate` on (an engine that died)."""

    def __init__(self, inner: Engine, nan_prompts=(), raise_on_score=(), slow_score=None,
                 die_on_generate=0, slow_generate=None) -> None:
        self.inner = inner
        self.tokenizer, self.eos_token_ids = inner.tokenizer, inner.eos_token_ids
        self.max_model_len = inner.max_model_len
        self.counters = inner.counters
        self.nan_prompts = [tuple(p) for p in nan_prompts]
        self.raise_on_score = set(raise_on_score)
        self.slow_score = dict(slow_score or {})
        self.slow_generate = dict(slow_generate or {})
        self.die_on_generate = die_on_generate
        self.score_calls = self.generate_calls = 0

    def generate(self, requests):
        self.generate_calls += 1
        if self.die_on_generate and self.generate_calls >= self.die_on_generate:
            raise RuntimeError("injected: engine process is gone")
        out = self.inner.generate(requests)
        time.sleep(self.slow_generate.get(self.generate_calls, 0))
        return out

    def score(self, requests):
        self.score_calls += 1
        if self.score_calls in self.raise_on_score:
            raise RuntimeError("injected engine failure")
        time.sleep(self.slow_score.get(self.score_calls, 0))
        out = self.inner.score(requests)
        return [ScoreResult(float("nan"), r.prompt_tokens, r.cached_tokens)
                if any(q.prefix[:len(p)] == p for p in self.nan_prompts) else r
                for q, r in zip(requests, out, strict=True)]


def answered(out, i: int) -> bool:
    """Question i got a forced answer after its thinking."""
    _, sep, answer = split_forced(out.texts[i], out.records[i].stop_reason)
    return bool(sep and answer.strip())


@pytest.fixture(scope="module")
def prompts(vllm_engine):
    return chat_prompts(vllm_engine, QUESTIONS[:4])


@pytest.fixture(scope="module")
def clean(vllm_engine, prompts):
    return make_scaler("expected_information_gain_reasoning", SMALL_EIG).run(
        vllm_engine, prompts, GEN)


def test_nan_scores_fail_only_that_question(vllm_engine, prompts, clean):
    # a question that decided once in the clean run too: the batches after the fault are then
    # the same as in the clean run, so everything else must be identical to the token
    victim = next(i for i, r in enumerate(clean.records) if len(r.decisions) == 1)
    faulty = FaultyEngine(vllm_engine, nan_prompts=[prompts[victim]])
    out = make_scaler("expected_information_gain_reasoning", SMALL_EIG).run(faulty, prompts, GEN)
    bad = out.records[victim]
    assert bad.failure == "nonfinite_scores" and bad.stop_reason == "failure"
    assert len(bad.decisions) == 1 and bad.decisions[0].failure == "nonfinite_scores"
    assert bad.decisions[0].decision == "stop" and bad.decisions[0].eig is None
    assert answered(out, victim)
    for i in set(range(len(prompts))) - {victim}:
        assert out.records[i].failure is None
        assert out.texts[i] == clean.texts[i]
        assert [d.eig for d in out.records[i].decisions] == pytest.approx(
            [d.eig for d in clean.records[i].decisions], abs=1e-6)
    assert out.summary["failures"] == {"nonfinite_scores": 1}
    assert out.summary["failed_questions"] == 1
    assert out.summary["success_rate"] < 1


def test_an_engine_error_fails_the_round_it_hit_and_the_run_completes(vllm_engine, prompts,
                                                                        clean):
    # fail the second decision round if the clean run had one (questions that stopped in the
    # first must then be untouched), else the first (every question in it must fail)
    second_round = {i for i, r in enumerate(clean.records) if len(r.decisions) >= 2}
    failing_call = 2 if second_round else 1
    hit = second_round if second_round else set(range(len(prompts)))
    faulty = FaultyEngine(vllm_engine, raise_on_score={failing_call})
    out = make_scaler("expected_information_gain_reasoning", SMALL_EIG).run(faulty, prompts, GEN)
    for i, rec in enumerate(out.records):
        assert answered(out, i)
        if i in hit:
            assert rec.failure == "engine_error" and rec.stop_reason == "failure"
            assert len(rec.decisions) == failing_call
            assert "injected engine failure" in rec.decisions[-1].failure_message
        else:
            # decided in the first round, before the fault: thinking and decisions unchanged
            # (the final answers share a batch with the failed ones, so only they may differ)
            assert rec.failure is None and rec.thinking == clean.records[i].thinking
            assert [d.decision for d in rec.decisions] == \
                [d.decision for d in clean.records[i].decisions]
    assert out.summary["failures"] == {"engine_error": len(hit)}
    assert out.summary["failed_questions"] == len(hit)


def _time_limit(clean) -> float:
    # questions deciding together share a round, and the limit applies to each one's share;
    # decisions of one round carry the same round time, which groups them
    rounds: dict[float, int] = {}
    for r in clean.records:
        for d in r.decisions:
            rounds[d.seconds["total"]] = rounds.get(d.seconds["total"], 0) + 1
    return max(1.0, round(3 * max(t / n for t, n in rounds.items()), 1))  # clean: within it


def test_a_decision_computed_late_stands_and_its_overrun_is_recorded(vllm_engine, prompts,
                                                                     clean):
    limit = _time_limit(clean)
    first_round = len(prompts)  # every question decides in the first round
    faulty = FaultyEngine(vllm_engine, slow_score={1: limit * first_round + 1})
    params = {**SMALL_EIG, "max_computation_time": limit}
    out = make_scaler("expected_information_gain_reasoning", params).run(faulty, prompts, GEN)
    assert out.summary["failures"] == {}
    for i, rec in enumerate(out.records):
        first = rec.decisions[0]
        assert first.over_time and first.over_time > 0 and first.eig is not None
        assert rec.failure is None and rec.thinking == clean.records[i].thinking  # it stood
        assert [d.decision for d in rec.decisions] == \
            [d.decision for d in clean.records[i].decisions]
        assert answered(out, i)
    assert out.summary["decisions_over_time"] == len(prompts)


def test_a_forecast_not_scored_in_time_stops_its_round_only(vllm_engine, prompts, clean):
    limit = _time_limit(clean)
    second_round = {i for i, r in enumerate(clean.records) if len(r.decisions) >= 2}
    # generate calls alternate: reasoning (1), sampling of round 1 (2), reasoning, sampling...
    slow_call = 4 if second_round else 2
    hit = second_round if second_round else set(range(len(prompts)))
    faulty = FaultyEngine(vllm_engine, slow_generate={slow_call: limit * len(hit) + 1})
    params = {**SMALL_EIG, "max_computation_time": limit}
    out = make_scaler("expected_information_gain_reasoning", params).run(faulty, prompts, GEN)
    for i, rec in enumerate(out.records):
        assert answered(out, i)
        if i in hit:
            assert rec.failure == "time_exceeded" and rec.stop_reason == "failure"
            last = rec.decisions[-1]
            assert last.failure == "time_exceeded" and last.eig is None  # never scored
            assert last.decision == "stop" and "max_computation_time" in last.failure_message
        else:
            assert rec.failure is None and rec.thinking == clean.records[i].thinking
    assert out.summary["failures"] == {"time_exceeded": len(hit)}


def test_a_decision_that_cannot_fit_the_context_fails_alone(vllm_engine):
    # one question so long that its forecasts would pass max_model_len; the others decide
    m = vllm_engine.max_model_len

    def long_question(words: int) -> str:
        return " ".join(["one"] * words) + ". How many words?"

    base = len(chat_prompts(vllm_engine, [long_question(100)])[0]) - 100  # tokens per "one": 1
    prompts = chat_prompts(vllm_engine, [QUESTIONS[0], long_question(m - 30 - base),
                                         QUESTIONS[1]])
    assert m - 40 < len(prompts[1]) < m - 20
    params = {**SMALL_EIG, "max_tokens_thinking": 4, "step_tokens": 2, "min_answer_tokens": 8}
    out = make_scaler("expected_information_gain_reasoning", params).run(vllm_engine, prompts, 64)
    long = out.records[1]
    assert long.failure == "context_overflow" and "max_model_len" in \
        long.decisions[0].failure_message
    assert all(out.records[i].failure is None and out.records[i].decisions for i in (0, 2))
    assert out.summary["failures"] == {"context_overflow": 1}


def test_an_engine_that_dies_fails_the_run_with_the_phase_named(vllm_engine, prompts):
    for die_on, phase in ((1, "reasoning"), (2, "the forced answers")):
        # die_on 2 with budget_forcing: the reasoning call succeeds, the answers call fails
        faulty = FaultyEngine(vllm_engine, die_on_generate=die_on)
        sc = make_scaler("budget_forcing", {"thinking_format": "plain",
                                            "max_tokens_thinking": 8})
        with pytest.raises(EngineFailure, match=phase) as err:
            sc.run(faulty, prompts, 64)
        assert "engine process is gone" in str(err.value) and f"of {len(prompts)} " in str(
            err.value)


def test_same_seed_same_decisions(vllm_engine, prompts, clean):
    again = make_scaler("expected_information_gain_reasoning", SMALL_EIG).run(
        vllm_engine, prompts, GEN)
    assert again.texts == clean.texts
    for a, b in zip(again.records, clean.records, strict=True):
        assert [d.candidates for d in a.decisions] == [d.candidates for d in b.decisions]
        assert [d.decision for d in a.decisions] == [d.decision for d in b.decisions]
        for x, y in zip(a.decisions, b.decisions, strict=True):
            assert math.isclose(x.eig, y.eig, abs_tol=1e-6)
    other = make_scaler("expected_information_gain_reasoning", {**SMALL_EIG, "seed": 99}).run(
        vllm_engine, prompts, GEN)
    assert [d.candidates for r in other.records for d in r.decisions] != \
        [d.candidates for r in clean.records for d in r.decisions]
