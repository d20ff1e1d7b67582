"""No stale run is taken as current: change a sweep of the session's finished test workflow,
kill the workflow while its replay runs (as a preemption does), rerun: exactly what is missing
or out of date is redone, resumed from the killed job's checkpoints, and equals the same change
run without a kill. Settings that cannot change a
result rerun nothing; a run folder made with other settings is refused, never aggregated."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from .helpers import REPO, SNAKEMAKE, planned_jobs, snakemake

pytestmark = pytest.mark.workflow

RUNS = "results/runs/smollm2/demo_arith"
TARGET = "results/metrics/runs.csv"  # the figures are not what this is about
SWEEP = ("bf_32", "bf_64")  # .test/config.yaml's replayed budget-forcing sweep


def edited(default_config: Path, dest: Path, **sweep_params) -> Path:
    """The test workflow's config with the bf sweep's params updated, checkpointing every
    question (so that a kill lands between questions)."""
    data = yaml.safe_load(default_config.read_text())
    data["generation"]["checkpoint_every"] = 1
    data["sweeps"]["bf"].setdefault("params", {}).update(sweep_params)
    dest.write_text(yaml.safe_dump(data))
    return dest


def copy_of(workflow: Path, dest: Path) -> Path:
    """A copy of a finished workflow folder (results and Snakemake's metadata) to change."""
    shutil.copytree(workflow, dest, symlinks=True)
    return dest


def answers(work: Path) -> dict[str, list]:
    out = {}
    for run in SWEEP:
        rows = [json.loads(x) for x in (work / RUNS / run / "decisions.jsonl").read_text()
                .splitlines()]
        out[run] = sorted((r["doc_id"], r["thinking_tokens"], r["extensions"], r["response"])
                          for r in rows)
    return out


def settings_of_run(work: Path, run: str) -> dict:
    return json.loads((work / RUNS / run / "provenance.json").read_text())["settings"]


def test_change_kill_rerun_equals_an_uninterrupted_run(default_workflow, default_config,
                                                       tmp_path):
    # the session's finished run of the test config is "before"; the sweep is then changed
    after = edited(default_config, tmp_path / "after.yaml", thinking_n_ignore=1)
    work = copy_of(default_workflow, tmp_path / "work")
    uninterrupted = copy_of(default_workflow, tmp_path / "uninterrupted")

    # the edited config starts; it is killed once the replay has checkpointed a question: every
    # process of it gets SIGTERM, as from Slurm's preemption (or Ctrl-C in a terminal)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    proc = subprocess.Popen([SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(work),
                             TARGET, "--configfile", str(after), "--cores", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                            start_new_session=True)
    partial = work / "results/replays/smollm2/demo_arith/bf.work/.partial"
    deadline = time.time() + 600
    while not list(partial.glob("*/decisions_*.jsonl")) and time.time() < deadline:
        assert proc.poll() is None, "the workflow ended before it could be interrupted"
        time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=120)
    kept = [len(p.read_text().splitlines()) for p in partial.glob("*/decisions_*.jsonl")]
    assert kept and max(kept) < 4, f"the kill did not land mid-run: {kept} of 4 kept"

    # the old results are still there, but they are not the edited config's: redone
    dry = snakemake(work, TARGET, "-n", "--configfile", str(after))
    stats, _ = planned_jobs(dry)
    assert stats.get("evaluate_replay") == 1 and stats.get("replayed_run") == 2, \
        dry.stdout[-2000:] + dry.stderr[-2000:]
    rerun = snakemake(work, TARGET, "--configfile", str(after), "--cores", "1")
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    log = (work / "results/logs/evaluate_replay/smollm2/demo_arith/bf.log").read_text()
    assert "already done" in log  # the killed job's checkpoints were used
    for run in SWEEP:
        assert settings_of_run(work, run)["run"]["params"]["thinking_n_ignore"] == 1

    # the same change run without a kill: the same answers
    clean = snakemake(uninterrupted, TARGET, "--configfile", str(after), "--cores", "1")
    assert clean.returncode == 0, clean.stderr[-3000:]
    assert answers(work) == answers(uninterrupted)

    # a setting that cannot change a result reruns nothing
    data = yaml.safe_load(after.read_text())
    data["generation"]["checkpoint_every"] = 5
    chunked = tmp_path / "chunked.yaml"
    chunked.write_text(yaml.safe_dump(data))
    assert planned_jobs(snakemake(work, TARGET, "-n", "--configfile", str(chunked)))[0] == {}

    # a run folder whose provenance says other settings is refused by the aggregation
    prov = work / RUNS / SWEEP[1] / "provenance.json"
    doc = json.loads(prov.read_text())
    doc["settings"]["run"]["params"]["thinking_n_ignore"] = 0
    prov.write_text(json.dumps(doc))
    refused = snakemake(work, TARGET, "--configfile", str(after), "--cores", "1",
                        "--forcerun", "extract_metrics")
    out = refused.stdout + refused.stderr
    assert refused.returncode != 0
    assert "made with other settings" in out and "thinking_n_ignore" in out
