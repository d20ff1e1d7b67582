"""`eigscale-eval` end to end: real lm-eval, real engines, the SmolLM2 model, demo_arith."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from eigscale.lmeval.tasks import TASKS_DIR

from .helpers import BIN, EIG_EVAL_LIMIT, split_forced

LIMIT = 3
CAP = 48  # budget forcing's thinking cap
GEN = {
    "none": "max_gen_toks=64,scale_func_name=none",
    "budget_forcing": ("max_gen_toks=128,thinking_format=plain,min_answer_tokens=48,"
                       f"scale_func_name=budget_forcing,max_tokens_thinking={CAP}"),
}
# through lm-eval's HFLM: no scaler and budget forcing here, EIG (whose code path, generate +
# score, covers the others') is the session's shared EIG run (conftest's `eig_eval`, which
# test_resume also reads). vLLM's lm-eval model runs the paper-shaped config through lm-eval
# in test_paper_shape and every rule's scaler in test_replay.
EIG = "expected_information_gain_reasoning"
CASES = [("hf", "none"), ("hf", "budget_forcing"), ("hf", EIG)]


def run_eval(args: list[str], tmp: Path, exe: str = "eigscale-eval",
             timeout: int = 900) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    return subprocess.run([str(BIN / exe), *args], cwd=tmp, env=env, capture_output=True,
                          text=True, timeout=timeout)


def outputs(out_dir: Path) -> dict[str, Path]:
    files = {}
    for p in out_dir.rglob("*.json*"):
        files[p.name.split("_")[0]] = p
    return files


@pytest.fixture(scope="module")
def runs(model_dir, eig_eval, tmp_path_factory):
    """Each (engine, scaler) of CASES evaluated once: (output files, process, questions)."""
    work, proc = eig_eval
    done = {("hf", EIG): (outputs(work / "out"), proc, EIG_EVAL_LIMIT)}
    for engine, scaler in CASES[:2]:
        tmp = tmp_path_factory.mktemp(f"{engine}-{scaler}")
        proc = run_eval(["--model", engine, "--model_args",
                         f"pretrained={model_dir},dtype=float32", "--tasks", "demo_arith",
                         "--limit", str(LIMIT), "--apply_chat_template", "--batch_size",
                         "auto", "--output_path", str(tmp / "out"), "--log_samples",
                         "--gen_kwargs", GEN[scaler]], tmp)
        assert proc.returncode == 0, proc.stderr[-3000:]
        done[(engine, scaler)] = (outputs(tmp / "out"), proc, LIMIT)
    return done


@pytest.mark.parametrize("engine,scaler", CASES)
def test_results_samples_and_decisions(runs, engine, scaler):
    files, proc, limit = runs[(engine, scaler)]
    results = json.loads(files["results"].read_text())
    metrics = results["results"]["demo_arith"]
    assert 0.0 <= metrics["exact_match,none"] <= 1.0
    assert 0 <= metrics["unparsed,none"] <= limit
    summary = results["eigscale"]["demo_arith"]
    assert summary["scaler"] == scaler and summary["questions"] == limit
    per_q = summary["thinking_tokens_per_question"]
    assert sorted(per_q) == [str(i) for i in range(limit)]

    samples = [json.loads(x) for x in files["samples"].read_text().splitlines()]
    assert len(samples) == limit
    decisions = [json.loads(x) for x in files["decisions"].read_text().splitlines()]
    assert sorted(d["doc_id"] for d in decisions) == list(range(limit))
    assert all(d["task"] == "demo_arith" for d in decisions)
    by_doc = {d["doc_id"]: d for d in decisions}
    for s in samples:
        response = s["resps"][0][0]
        assert response.strip(), "empty response"
        if scaler != "none":
            stop = by_doc[s["doc_id"]]["stop_reason"]
            thinking, sep, answer = split_forced(response, stop)
            assert sep and thinking.strip() and answer.strip(), response
            assert per_q[str(s["doc_id"])] > 0
    assert summary["lengths"]["prompts_cut"] == 0
    for s in samples:  # the record is the same question's: its answer ends the response
        assert s["resps"][0][0].endswith(by_doc[s["doc_id"]]["answer"])
    if scaler == EIG:
        assert summary["decisions"] > 0 and summary["eig"]["mean"] is not None
        assert all(d["decisions"] for d in decisions)
        assert "decision 0 (step)" in proc.stderr  # debug=true logs as it decides
    if scaler == "budget_forcing":
        assert all(0 < d["thinking_tokens"] <= CAP for d in decisions)


@pytest.mark.engine
def test_without_a_scaler_it_is_lm_evals_own_model(model_dir, tmp_path):
    args = ["--model_args", f"pretrained={model_dir},dtype=float32", "--tasks", "demo_arith",
            "--limit", "2", "--apply_chat_template", "--log_samples",
            "--gen_kwargs", "max_gen_toks=48", "--include_path", str(TASKS_DIR)]
    ours = run_eval(["--model", "hf", *args, "--output_path", str(tmp_path / "a")], tmp_path)
    theirs = run_eval(["--model", "hf", *args, "--output_path", str(tmp_path / "b")], tmp_path,
                      exe="lm_eval")
    assert ours.returncode == 0 and theirs.returncode == 0, ours.stderr[-2000:]

    def responses(d):
        return [json.loads(x)["resps"] for x in outputs(d)["samples"].read_text().splitlines()]

    assert responses(tmp_path / "a") == responses(tmp_path / "b")


def test_unknown_gen_kwarg_fails_before_the_model_loads(tmp_path):
    t0 = time.time()
    proc = run_eval(["--model", "vllm", "--model_args", "pretrained=/nonexistent/model",
                     "--tasks", "demo_arith", "--gen_kwargs",
                     "scale_func_name=expected_information_gain_reasoning,lambda_cots=0.1"],
                    tmp_path, timeout=120)
    assert proc.returncode == 2
    assert "'lambda_cots'" in proc.stderr and "lambda_cost" in proc.stderr  # named, valid listed
    assert "nonexistent" not in proc.stderr  # nothing tried to load the model
    assert time.time() - t0 < 60


def test_scaler_key_without_a_scaler_is_refused(tmp_path):
    proc = run_eval(["--model", "hf", "--model_args", "pretrained=/nonexistent/model",
                     "--tasks", "demo_arith", "--gen_kwargs", "lambda_cost=0.1"], tmp_path,
                    timeout=120)
    assert proc.returncode == 2 and "scale_func_name" in proc.stderr


def test_seed_command_line_is_accepted_as_written(tmp_path):
    # the seed's gen_kwargs, validated exactly as a run would (model path deliberately absent)
    from eigscale.lmeval.gen_kwargs import check_gen_kwargs

    check_gen_kwargs({"max_gen_toks": 32768,
                      "scale_func_name": "expected_information_gain_reasoning",
                      "lambda_cost": 0.03, "beam_size": 12, "mc_samples": 8,
                      "sample_length": 128, "debug": True})
