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

from .helpers import OFFLINE, eig_eval_command

pytestmark = pytest.mark.engine

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
            "decisions": [(x["candidates"], x["decision"],
                           None if x["eig"] is None else round(x["eig"], 6))
                          for x in d["decisions"]]}


def test_killed_run_resumes_without_recomputing(model_dir, eig_eval, tmp_path):
    whole, _ = eig_eval  # the session's uninterrupted run of the same command

    killed = tmp_path / "killed"
    checkpoint = killed / "records" / "decisions_demo_arith.jsonl"
    counters = killed / "records" / "chunks_demo_arith.jsonl"  # appended right after it
    victim = subprocess.Popen(eig_eval_command(model_dir, killed), env=OFFLINE,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    deadline = time.time() + 600
    while time.time() < deadline and victim.poll() is None:
        if counters.exists() and len(checkpoint.read_text().splitlines()) >= 2:
            break
        time.sleep(0.2)
    assert victim.poll() is None, "the run ended before it could be killed"
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait()
    assert len(checkpoint.read_text().splitlines()) == 2  # the first chunk, durably
    assert not list((killed / "out").rglob("results_*.json"))  # no result that looks finished

    rerun = subprocess.run(eig_eval_command(model_dir, killed), env=OFFLINE,
                           capture_output=True, text=True, timeout=900)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "2 already done, resuming" in rerun.stderr

    res_w, samples_w, dec_w = finished(whole)
    res_k, samples_k, dec_k = finished(killed)
    assert res_k["eigscale"]["demo_arith"]["resumed_questions"] == 2
    assert "uncounted_questions" not in res_k["eigscale"]["demo_arith"]
    assert res_w["eigscale"]["demo_arith"]["resumed_questions"] == 0
    assert [comparable(d) for d in dec_k] == [comparable(d) for d in dec_w]
    assert [s["resps"] for s in samples_k] == [s["resps"] for s in samples_w]
    assert res_k["results"]["demo_arith"] == res_w["results"]["demo_arith"]
    # work summed over both attempts equals one whole run: the first chunk was not redone
    assert res_k["eigscale"]["demo_arith"]["engine"]["calls"] == \
        res_w["eigscale"]["demo_arith"]["engine"]["calls"]


def test_counters_lost_between_two_appends_are_reported(model_dir, eig_eval, tmp_path):
    """A kill after a chunk's records but before its counters (two appends): the rerun answers
    nothing again, and says how many questions' engine counters it lacks rather than
    undercounting. Here every chunk's counters are lost: the finished run's records alone."""
    whole, _ = eig_eval
    work = tmp_path / "work"
    (work / "records").mkdir(parents=True)
    _, _, rows = finished(whole)
    (work / "records" / "decisions_demo_arith.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rows))
    proc = subprocess.run(eig_eval_command(model_dir, work), env=OFFLINE, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "4 already done" in proc.stderr and "lost by an interruption" in proc.stderr
    results, _, decisions = finished(work)
    summary = results["eigscale"]["demo_arith"]
    assert summary["uncounted_questions"] == 4 and summary["resumed_questions"] == 4
    assert [comparable(d) for d in decisions] == [comparable(d) for d in rows]
    assert summary["scaler"] == "expected_information_gain_reasoning"
