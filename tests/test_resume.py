"""Kill an evaluation mid-run, rerun it: the finished questions are not recomputed and the
result equals an uninterrupted run's."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from .helpers import BIN

pytestmark = pytest.mark.engine

GEN = ("max_gen_toks=160,thinking_format=plain,min_answer_tokens=48,"
       "scale_func_name=expected_information_gain_reasoning,"
       "max_tokens_thinking=64,step_tokens=32,beam_size=3,mc_samples=2,sample_length=8")


def command(model_dir: Path, work: Path) -> list[str]:
    return [str(BIN / "eigscale-eval"), "--model", "hf", "--model_args",
            f"pretrained={model_dir},dtype=float32,eigscale_records={work / 'records'},"
            "eigscale_chunk=2", "--tasks", "demo_arith", "--limit", "4",
            "--apply_chat_template", "--output_path", str(work / "out"), "--log_samples",
            "--gen_kwargs", GEN]


ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}


def finished(work: Path) -> tuple[dict, list[dict], list[dict]]:
    out = work / "out"
    results = json.loads(next(out.rglob("results_*.json")).read_text())
    samples = [json.loads(x) for x in next(out.rglob("samples_*.jsonl")).read_text().splitlines()]
    decisions = [json.loads(x) for x in
                 next(out.rglob("decisions_*.jsonl")).read_text().splitlines()]
    return results, sorted(samples, key=lambda s: s["doc_id"]), \
        sorted(decisions, key=lambda d: d["doc_id"])


def comparable(d: dict) -> dict:
    return {"doc_id": d["doc_id"], "response": d["response"],
            "thinking_tokens": d["thinking_tokens"], "stop_reason": d["stop_reason"],
            "decisions": [(x["candidates"], x["decision"], round(x["eig"], 6))
                          for x in d["decisions"]]}


def test_killed_run_resumes_without_recomputing(model_dir, tmp_path):
    whole = tmp_path / "whole"
    proc = subprocess.run(command(model_dir, whole), env=ENV, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]

    killed = tmp_path / "killed"
    checkpoint = killed / "records" / "decisions_demo_arith.jsonl"
    victim = subprocess.Popen(command(model_dir, killed), env=ENV, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 600
    while time.time() < deadline and victim.poll() is None:
        if checkpoint.exists() and len(checkpoint.read_text().splitlines()) >= 2:
            break
        time.sleep(0.2)
    assert victim.poll() is None, "the run ended before it could be killed"
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait()
    assert len(checkpoint.read_text().splitlines()) == 2  # the first chunk, durably
    assert not list((killed / "out").rglob("results_*.json"))  # no result that looks finished

    rerun = subprocess.run(command(model_dir, killed), env=ENV, capture_output=True, text=True,
                           timeout=900)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "2 already done, resuming" in rerun.stderr

    res_w, samples_w, dec_w = finished(whole)
    res_k, samples_k, dec_k = finished(killed)
    assert res_k["eigscale"]["demo_arith"]["resumed_questions"] == 2
    assert res_w["eigscale"]["demo_arith"]["resumed_questions"] == 0
    assert [comparable(d) for d in dec_k] == [comparable(d) for d in dec_w]
    assert [s["resps"] for s in samples_k] == [s["resps"] for s in samples_w]
    assert res_k["results"]["demo_arith"] == res_w["results"]["demo_arith"]
    # work summed over both attempts equals one whole run: the first chunk was not redone
    assert res_k["eigscale"]["demo_arith"]["engine"]["calls"] == \
        res_w["eigscale"]["demo_arith"]["engine"]["calls"]
