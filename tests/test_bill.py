"""The bill before launch (eigscale.pipeline.bill): the workflow's own GPU jobs, bounded."""

from __future__ import annotations

import math

import pytest
import yaml

from eigscale.pipeline import run_config
from eigscale.pipeline.bill import PEAK_FLOPS, THROUGHPUT_SHARE, bill, main, totals
from eigscale.scalers import make_scaler

from .helpers import REPO, planned_jobs, snakemake

SCHEMA = REPO / "workflow/schemas/config.schema.yaml"


def small(**model: object) -> dict:
    """Two models of one shape, one greedy and one sampling (k = 3), a live run, a live cap
    and a replayed EIG sweep."""
    entry = {"source": "hf:deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B", "max_model_len": 4096,
             "thinking_format": "r1", "gpus": 1, **model}
    return {"models": {"greedy": entry,
                       "sampled": {**entry, "decoding": {"temperature": 0.6, "top_p": 0.95}}},
            "tasks": {"aime24": {"samples": 3}},
            "generation": {"max_gen_toks": 4000},
            "analysis": {"oracle_step": 100, "oracle_answer_tokens": 500},
            "runs": {"baseline": {"scaler": "none"},
                     "bf": {"scaler": "budget_forcing", "params": {"max_tokens_thinking": 1000}}},
            "sweeps": {"eig": {"preset": "fast", "vary": "lambda_cost", "values": [0.1, 0.5],
                               "replay": True,
                               "params": {"max_tokens_thinking": 2000, "step_tokens": 500}}}}


def test_a_sampled_model_is_billed_k_traces_per_question_and_a_replay_one_trace():
    config = small()
    jobs = bill(config, run_config.validate(config, SCHEMA))
    by = {(j.model, j.name): j for j in jobs}
    assert len(jobs) == 2 * 4  # per model: the oracle, two live runs, one replay sweep
    # aime24's 30 questions; the sampling model draws 3 traces each, the greedy one 1
    assert by["greedy", "bf"].traces == 30 and by["sampled", "bf"].traces == 90
    # a live run thinks at most its cap, and thinks and answers in at most max_gen_toks
    bf = by["sampled", "bf"]
    assert (bf.main, bf.reasoning, bf.side) == (90 * 4000, 90 * 1000, 0)
    assert (by["sampled", "baseline"].main, by["sampled", "baseline"].reasoning) == (90 * 4000, 0)
    # a replayed sweep thinks once (its tracer's cap), answers once per run, and its side
    # tokens are the tracer's decisions' (EIG: candidates and forecasts every step)
    eig = by["sampled", "eig"]
    tracer = make_scaler("expected_information_gain_reasoning",
                         {**run_config.BUILTIN_PRESETS["fast"]["params"],
                          "max_tokens_thinking": 2000, "step_tokens": 500, "lambda_cost": 0.1})
    assert eig.runs == 2 and eig.reasoning == 90 * 2000 and eig.main == 90 * 2 * 4000
    assert eig.side == 90 * tracer.side_bound(2000)[1] > 0
    # the oracle: one trace to the largest cap, an answer of at most 500 at every 100 tokens
    oracle = by["sampled", "oracle"]
    assert oracle.reasoning == 90 * 2000 and oracle.main == 90 * (2000 + 21 * 500)
    # FLOPs from the model's shape; GPU-hours at the assumed share of an A100's peak
    assert oracle.flops > 2 * 1.5e9 * oracle.generated
    assert oracle.gpu_hours == pytest.approx(
        oracle.flops / (THROUGHPUT_SHARE * PEAK_FLOPS["A100-80GB"]) / 3600)
    assert totals(jobs)["jobs"] == 8


def test_the_bills_throughput_is_the_users_and_an_unknown_gpu_is_named():
    config = {**small(gpu_kind="B200"), "bill": {"flops_per_second": {"B200": 4e14}}}
    jobs = bill(config, run_config.validate(config, SCHEMA))
    assert all(j.gpu_hours == pytest.approx(j.flops / 4e14 / 3600) for j in jobs)
    unknown = small(gpu_kind="TPUv9")
    with pytest.raises(ValueError, match=r"bill\.flops_per_second\.TPUv9"):
        bill(unknown, run_config.validate(unknown, SCHEMA))
    # a model whose shape is unknown: its FLOPs are unknown, never a guess
    odd = small(source="hf:someone/unknown-model")
    assert all(math.isnan(j.flops) for j in bill(odd, run_config.validate(odd, SCHEMA)))


@pytest.mark.workflow
def test_the_bill_lists_the_workflows_own_gpu_jobs_for_the_paper_grid(tmp_path, capsys):
    paper = REPO / "config/paper.yaml"
    config = yaml.safe_load(paper.read_text())
    jobs = bill(config, run_config.validate(config, SCHEMA))
    proc = snakemake(tmp_path, "-n", "--configfile", str(paper), timeout=600)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    planned, _ = planned_jobs(proc)
    for kind in ("evaluate", "evaluate_replay", "oracle"):
        assert sum(j.job == kind for j in jobs) == planned[kind], kind
    # the R1 model samples (its card's decoding): k traces per question, s1 one
    r1 = {j.task: j.traces for j in jobs if j.model == "r1-distill-qwen-1.5B"
          and j.name == "oracle"}
    assert r1 == {"math500": 1000, "aime24": 240, "gpqa_diamond": 792}
    assert main([str(paper), "--totals"]) == 0
    out = capsys.readouterr().out
    assert f"total: {len(jobs)} GPU jobs" in out and "Assumed:" in out
