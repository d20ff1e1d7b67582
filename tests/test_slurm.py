"""The Slurm profile against a real Slurm: a localhost cluster with a `gpu` partition and two
fake GPUs (tests/localhost_slurm.py). Only the profile's site settings are changed for it."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml

from .helpers import REPO, SNAKEMAKE, linked_config
from .localhost_slurm import LocalSlurm, SlurmUnavailable

pytestmark = pytest.mark.workflow

PROFILE = REPO / "profiles" / "slurm" / "config.yaml"
SITE_KEYS = {"default-resources": {"slurm_partition", "slurm_account", "runtime", "mem_mb",
                                   "cpus_per_task"},
             "set-resources.evaluate": {"slurm_partition", "runtime", "mem_mb", "cpus_per_task",
                                        "gpu_model"}}
TEST_SITE = {"default-resources": {"slurm_partition": "cpu", "slurm_account": "eigscale-ci",
                                   "runtime": 30, "mem_mb": 2000, "cpus_per_task": 1},
             "set-resources.evaluate": {"slurm_partition": "gpu", "runtime": 30, "mem_mb": 4000,
                                        "cpus_per_task": 1}}


def site_profile(folder: Path) -> Path:
    """profiles/slurm with its site settings replaced by the test cluster's, nothing else."""
    profile = yaml.safe_load(PROFILE.read_text())
    for section, values in TEST_SITE.items():
        assert set(values) <= SITE_KEYS[section]
        target = profile
        for key in section.split("."):
            target = target[key]
        target.update(values)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.yaml").write_text(yaml.safe_dump(profile))
    return folder


def slurm_config(tmp_path: Path, model_dir: Path, **model: object) -> Path:
    return linked_config(REPO / ".test" / "slurm.yaml", model_dir,
                         tmp_path / "slurm_config.yaml", **model)


def snakemake(workdir: Path, *args: str, limit: int = 1200) -> subprocess.CompletedProcess:
    # SIGINT on timeout: a snakemake waiting on Slurm ignores SIGTERM
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    return subprocess.run(["timeout", "-s", "INT", "-k", "30", str(limit), SNAKEMAKE, "-s",
                           str(REPO / "Snakefile"), "--directory", str(workdir), *args],
                          capture_output=True, text=True, env=env, timeout=limit + 60)


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    cluster = LocalSlurm(tmp_path_factory.mktemp("slurm"))
    try:
        cluster.start()
    except SlurmUnavailable as e:
        if os.environ.get("EIGSCALE_REQUIRE_SLURM"):
            raise
        pytest.skip(f"no localhost Slurm here: {e}")
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.mark.engine
@pytest.mark.service
def test_every_evaluation_is_a_gpu_job_on_slurm(slurm, tmp_path, model_dir):
    work = tmp_path / "work"
    profile = site_profile(tmp_path / "profile")
    # the first status check after 5 s, not the profile's 40 (a cluster on localhost answers
    # at once; on a real one, squeue's load matters): a command-line option, not a profile edit
    proc = snakemake(work, "--profile", str(profile), "--configfile",
                     str(slurm_config(tmp_path, model_dir)),
                     "--slurm-init-seconds-before-status-checks", "5")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-5000:]

    # what Slurm itself says about every job the workflow submitted
    submitted = re.findall(r"submitted with SLURM jobid (\d+) \(log: (\S+)\)", out)
    jobs = {jid: slurm.job(jid) for jid, _ in submitted}
    runs = {j["Comment"].rsplit("_", 1)[-1]: (jid, j) for jid, j in jobs.items()
            if j["Comment"].startswith("rule_evaluate_")}
    oracles = [j for j in jobs.values() if j["Comment"].startswith("rule_oracle_")]
    # the evaluations and the oracle grid, nothing else (the rest are local rules)
    assert sorted(runs) == ["baseline", "bf"] and len(oracles) == 1, jobs
    for job in oracles:
        assert job["JobState"] == "COMPLETED" and job["Partition"] == "gpu", job
        assert job["TresPerJob"] == "gres:gpu:1", job
    for run, (jid, job) in runs.items():
        assert job["JobState"] == "COMPLETED" and job["Partition"] == "gpu", job
        assert job["TresPerJob"] == "gres:gpu:1" and job["Account"] == "eigscale-ci", job
        host = json.loads((work / f"results/runs/smollm2/demo_arith/{run}/provenance.json")
                          .read_text())["host"]
        assert host["SLURM_JOB_ID"] == jid and host["SLURM_JOB_PARTITION"] == "gpu"
        assert host["CUDA_VISIBLE_DEVICES"] in ("0", "1")  # the GPU Slurm gave this job
    for _, log in submitted:  # Slurm's own logs, kept where the profile says
        assert Path(log).is_file() and str(work / "logs" / "slurm") in log

    table = pd.read_csv(work / "results/metrics/runs.csv")
    assert sorted(table["run"]) == ["baseline", "bf"] and (table["questions"] == 2).all()
    for fig in ("accuracy_vs_tokens", "eig_trajectories", "cost_breakdown"):
        assert (work / f"results/figures/{fig}.png").stat().st_size > 5000


@pytest.mark.parametrize("kind,gpus,args", [
    ("vllm", 2, "'tensor_parallel_size': 2}"),
    ("vllm", 1, "'tensor_parallel_size': 1}"),
    ("hf", 2, "{'parallelize': True}"),
])
def test_profile_requests_the_models_gpus(tmp_path, model_dir, kind, gpus, args):
    profile = site_profile(tmp_path / "profile")
    config = slurm_config(tmp_path, model_dir, engine=kind, gpus=gpus)
    proc = snakemake(tmp_path / "work", "-n", "--profile", str(profile), "--configfile",
                     str(config), limit=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    jobs = re.findall(r"evaluate smollm2/demo_arith/(\w+) on (\d+) GPU\(s\), engine args (.*)",
                      out)
    assert sorted(j[0] for j in jobs) == ["baseline", "bf"], out[-3000:]
    assert all(j[1] == str(gpus) and j[2].endswith(args) for j in jobs), jobs
