"""Replay sweeps equal live runs: same answers, thinking tokens, stop reasons and decisions."""

from __future__ import annotations

import pytest

from eigscale.engines.traces import TraceRecorder, TraceServer
from eigscale.scalers import make_scaler
from eigscale.scalers.base import Decoding
from eigscale.scalers.cut_grid import oracle_grid
from eigscale.scalers.replay import ReplayError, check_replayable, replay

from .helpers import GEN, PLAIN, QUESTIONS, SMALL_EIG, SpyEngine, chat_prompts

BF = "budget_forcing"
EIG = "expected_information_gain_reasoning"
ENTROPY = "answer_entropy"
DYNASOR = "dynasor_cot"
DEER = "deer"
EAT = "eat"
EAT_DEMO = {**PLAIN, "timescale": 0.5, "warmup": 1, "max_tokens_thinking": 96}


def outcome(out):
    return [(r.thinking_tokens, r.stop_reason, r.extensions, r.failure, r.answer,
             [(d.kind, d.thinking_tokens, d.decision, d.continuation, d.candidates,
               None if d.eig is None else round(d.eig, 6),
               None if d.entropy is None else round(d.entropy, 6)) for d in r.decisions])
            for r in out.records]


@pytest.mark.engine
@pytest.mark.parametrize("name,vary,values,base,n", [
    # n_ignore=1: caps that cut before, at and after a natural end and its "Wait"
    (BF, "max_tokens_thinking", [16, 48, 100], {**PLAIN, "thinking_n_ignore": 1}, 8),
    # the questions' integer classes: the grader's, as eigscale-eval sets them
    (EIG, "lambda_cost", [0.0, 0.3],
     {**SMALL_EIG, "max_tokens_thinking": 96, "answer_kind": "integer"}, 2),
    (ENTROPY, "tau", [0.0, 0.9, 1.5],
     {**PLAIN, "beam_size": 4, "step_tokens": 16, "max_tokens_thinking": 96}, 2),
    # sampled probes, seeded by question and position: the trace's own
    (DYNASOR, "window", [1, 2, 4],
     {**PLAIN, "probe_interval": 16, "max_tokens_thinking": 96, "answer_kind": "integer"}, 4),
    # SmolLM2 seldom writes "Wait": every sentence end is a transition here
    (DEER, "threshold", [0.3, 0.6, 0.9],
     {**PLAIN, "transition": ".", "max_judge_steps": 4, "max_tokens_thinking": 96}, 4),
    # SmolLM2's short thinking has few paragraph breaks: a fast average, one check's warm-up
    (EAT, "delta", [0.02, 0.3], EAT_DEMO, 4),
])
def test_replay_equals_live(vllm_engine, name, vary, values, base, n):
    prompts = chat_prompts(vllm_engine, QUESTIONS[:n])
    scalers = [make_scaler(name, {**base, vary: v}) for v in values]
    live = [s.run(vllm_engine, prompts, GEN) for s in scalers]
    replayed = replay(vllm_engine, scalers, prompts, GEN)
    for a, b in zip(live, replayed, strict=True):
        assert outcome(b) == outcome(a)
        assert b.texts == a.texts
        # the tokens a live run would spend (how many of them the prefix cache served depends
        # on what earlier runs left in it, so that count is not compared)
        assert {k: v for k, v in b.summary["tokens"].items() if k != "score_cached"} == \
            {k: v for k, v in a.summary["tokens"].items() if k != "score_cached"}
        assert b.summary["replay"]["runs"] == len(values)
    # the sweep is not trivial: its settings stop some question at different points
    assert len({tuple(r.thinking_tokens for r in out.records) for out in live}) > 1


# the posterior rules' decision time limit at its largest: two test workers share 2 cores, and
# a decision over time fails its question (by design) in one run and not in the other
SLOW_OK = {"max_computation_time": 300.0}
SWEEPS = [
    (BF, "max_tokens_thinking", [16, 48, 100], PLAIN),
    (EIG, "lambda_cost", [0.0, 2.0],
     {**SMALL_EIG, **SLOW_OK, "max_tokens_thinking": 48, "answer_kind": "integer"}),
    (ENTROPY, "tau", [0.0, 1.5],
     {**PLAIN, **SLOW_OK, "beam_size": 4, "step_tokens": 16, "max_tokens_thinking": 48}),
    (DYNASOR, "window", [1, 2, 4],
     {**PLAIN, "probe_interval": 16, "max_tokens_thinking": 96, "answer_kind": "integer"}),
    # the ends of each rule's range: a sweep that stops some trace early and one that does not
    (DEER, "threshold", [0.0, 0.9],
     {**PLAIN, "transition": ".", "max_judge_steps": 4, "max_tokens_thinking": 96}),
    (EAT, "delta", [0.001, 5.0], EAT_DEMO),
]
SAMPLED = Decoding(temperature=0.6, top_p=0.95)  # the R1 series' own decoding


@pytest.mark.engine
@pytest.mark.parametrize("name,vary,values,base", SWEEPS, ids=[s[0] for s in SWEEPS])
def test_sampled_replay_equals_live_on_the_same_trace(vllm_engine, name, vary, values, base):
    """k = 3 sampled traces of a question: each run's replayed decisions on the stored traces
    are those it makes live over an engine that serves those traces token for token (the
    stand-in, eigscale.engines.traces.TraceServer: its side requests go to the engine)."""
    prompts = chat_prompts(vllm_engine, QUESTIONS[1:2]) * 3
    samples = [0, 1, 2]
    scalers = [make_scaler(name, {**base, vary: v}) for v in values]
    recorder = TraceRecorder(vllm_engine)
    replayed = replay(recorder, scalers, prompts, GEN, SAMPLED, samples=samples)
    traces = recorder.traces
    assert len(traces) == 3  # one per (question, sample)
    # the samples are draws, each seeded by its index: three different traces
    assert len({traces[r.uid].rounds for r in replayed[0].records}) == 3
    assert [r.sample for r in replayed[0].records] == samples
    for s, b in zip(scalers, replayed, strict=True):
        a = s.run(TraceServer(vllm_engine, traces), prompts, GEN, SAMPLED, samples=samples)
        assert outcome(b) == outcome(a)
        assert b.texts == a.texts
    # the sweep is not trivial on these traces: its settings stop some trace at other points
    assert len({tuple(r.thinking_tokens for r in out.records) for out in replayed}) > 1


@pytest.mark.engine
def test_every_sampled_sweep_decides_on_the_oracles_own_traces(vllm_engine):
    """Sampled traces are drawn once, rule-free: each (question, sample) trace of the oracle
    grid and of every replayed sweep, whatever its rule, its rounds and its own seed, is one
    draw (a shorter cap ends it sooner)."""
    prompts = chat_prompts(vllm_engine, QUESTIONS[1:2]) * 2
    samples = [0, 1]
    oracle = TraceRecorder(vllm_engine)
    oracle_grid(oracle, make_scaler(BF, {**PLAIN, "max_tokens_thinking": 100}), prompts, GEN,
                50, SAMPLED, samples=samples)
    assert len(oracle.traces) == 2
    for name, vary, values, base in (SWEEPS[3], SWEEPS[4]):  # Dynasor's steps, DEER's "."
        recorder = TraceRecorder(vllm_engine)
        replay(recorder, [make_scaler(name, {**base, vary: v, "seed": 7}) for v in values],
               prompts, GEN, SAMPLED, samples=samples)
        for uid, trace in recorder.traces.items():
            mine, ref = trace.rounds[0].tokens, oracle.traces[uid].rounds[0].tokens
            n = min(len(mine), len(ref))
            assert n > 16 and mine[:n] == ref[:n], name


def test_replay_refuses_what_changes_the_trace():
    eig = [make_scaler(EIG, {**SMALL_EIG, "lambda_cost": v}) for v in (0.1, 0.2)]
    assert check_replayable(eig) == "lambda_cost"
    mixed = [make_scaler(EIG, {**SMALL_EIG, "continuation_prompts": c})
             for c in ("0:Wait", "0.5:Hmm|0:Wait")]
    with pytest.raises(ReplayError, match="continuation_prompts"):
        check_replayable(mixed)
    with pytest.raises(ReplayError, match="beam_size"):
        check_replayable([make_scaler(EIG, {**SMALL_EIG, "beam_size": b}) for b in (2, 4)])
    with pytest.raises(ReplayError, match="one replayable rule"):
        check_replayable([eig[0], make_scaler(BF, PLAIN)])
    with pytest.raises(ReplayError, match="auto"):
        check_replayable([make_scaler(BF, {**PLAIN, "max_tokens_thinking": v})
                          for v in ("auto", 64)])


@pytest.mark.engine
def test_oracle_grid_answers_are_live_budget_forcing_answers(vllm_engine):
    """Every cut of the oracle grid is answered as a live budget_forcing run capped there
    answers (same forced tail, same answer), the trace's end as the uncapped run's."""
    from eigscale.grading import answer_section
    from eigscale.scalers.cut_grid import grid_points, oracle_grid

    prompts = chat_prompts(vllm_engine, QUESTIONS[:4])
    tracer = make_scaler(BF, {**PLAIN, "max_tokens_thinking": 96})
    ctx, cuts = oracle_grid(vllm_engine, tracer, prompts, GEN, step=32)
    ends = [len(t.thinking) for t in ctx.thoughts]
    assert [[c.t for c in per] for per in cuts] == [grid_points(e, 32) for e in ends]
    assert any(e < 96 for e in ends) and any(e == 96 for e in ends)  # natural ends and caps
    end = tracer.params.thinking_end
    for cap in (32, 96):  # a cut inside every trace, and the traces' own ends
        live = make_scaler(BF, {**PLAIN, "max_tokens_thinking": cap}).run(vllm_engine, prompts,
                                                                         GEN)
        for per, text, rec in zip(cuts, live.texts, live.records, strict=True):
            cut = next(c for c in per if c.t == min(cap, c.end))
            assert cut.t == rec.thinking_tokens and cut.stop_reason == rec.stop_reason
            assert answer_section(cut.text, end) == answer_section(text, end)
            assert cut.answer_tokens == rec.answer_tokens
            # charged as the live run is, from the engine's counts (the compute axis' cells)
            # (prefill: the live run meets the prompt in the cache the grid's trace left)
            assert cut.decoded_tokens == sum(rec.decoded.values())
            assert cut.prefill_tokens >= sum(rec.prefill.values()) >= rec.prefill["answer"] > 0
    # the oracle's answer bound: an answer longer than the cap stops there, marked as capped,
    # its text the uncapped answer's first tokens; a shorter answer is the same answer
    _, capped = oracle_grid(vllm_engine, tracer, prompts, GEN, step=32, answer_cap=8)
    pairs = [(a, b) for pa, pb in zip(cuts, capped, strict=True)
             for a, b in zip(pa, pb, strict=True)]
    assert any(a.answer_tokens > 8 for a, _ in pairs)
    for full, cap in pairs:
        assert cap.answer_tokens == min(full.answer_tokens, 8)
        assert cap.answer_capped == (full.answer_tokens > 8)
        if full.answer_tokens <= 8:
            assert cap.text == full.text
        else:
            assert full.text.startswith(cap.text.rstrip())


@pytest.mark.engine
def test_eat_replays_on_transformers_and_its_entropy_is_the_same_on_both_engines(
        hf_engine, vllm_engine):
    """EAT's replay equals its live runs on the transformers engine too (vLLM: above), and
    the entropy each engine gives after the same thinking is the same, the whole vocabulary's
    on both (vLLM's full log-probs against transformers' logits in float64)."""

    prompts = chat_prompts(hf_engine, QUESTIONS[:4])
    scalers = [make_scaler(EAT, {**EAT_DEMO, "delta": d}) for d in (0.02, 0.3)]
    spy = SpyEngine(hf_engine)
    live = [s.run(spy, prompts, GEN) for s in scalers]
    replayed = replay(hf_engine, scalers, prompts, GEN)
    for a, b in zip(live, replayed, strict=True):
        assert outcome(b) == outcome(a) and b.texts == a.texts
    assert len({tuple(r.thinking_tokens for r in out.records) for out in live}) > 1
    # the checks' own requests, asked again of both engines
    checks = [r for call in spy.generated for r in call if r.entropy]
    exact = [o.completions[0].entropy for o in hf_engine.generate(checks)]
    served = [o.completions[0].entropy for o in vllm_engine.generate(checks)]
    recorded = [d.scores["entropy_bits"] for r in live[0].records for d in r.decisions]
    assert len(checks) >= 3 and all(0 < x < 16 for x in exact)
    # what it decided on (the same prefixes in other batches: float32 padding noise only)
    assert all(min(abs(x - e) for e in exact) < 1e-3 for x in recorded)
    assert served == pytest.approx(exact, abs=1e-2)
