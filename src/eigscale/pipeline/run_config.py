"""The workflow's configuration: schema validation with clear errors, runs expanded from sweeps
and presets, and the settings of each evaluation job (a change reruns that job).

Kept in the package (not in the Snakefile) so that it is tested like everything else and the
rule files stay declarative.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from eigscale.engines import ENGINES
from eigscale.errors import ParamError
from eigscale.lmeval.tasks import ANSWER_KIND
from eigscale.params import DEFAULT_SEED
from eigscale.scalers import SCALERS, make_scaler
from eigscale.scalers.eig_reasoning import EIGReasoning
from eigscale.scalers.replay import check_replayable

# The seed's evaluation scripts, as presets (its eval_eig*.sh names are aliases).
BUILTIN_PRESETS: dict[str, dict[str, Any]] = {
    "balanced": {"scaler": EIGReasoning.name, "params": {}},
    "fast": {"scaler": EIGReasoning.name,
             "params": {"lambda_cost": 0.1, "beam_size": 4, "mc_samples": 3,
                        "sample_length": 32}},
    "precision": {"scaler": EIGReasoning.name,
                  "params": {"lambda_cost": 0.03, "beam_size": 12, "mc_samples": 8,
                             "sample_length": 128}},
}
BUILTIN_PRESETS["eval_eig"] = BUILTIN_PRESETS["balanced"]
BUILTIN_PRESETS["eval_eig_fast"] = BUILTIN_PRESETS["fast"]
BUILTIN_PRESETS["eval_eig_precision"] = BUILTIN_PRESETS["precision"]

MODEL_DEFAULTS = {"engine": "vllm", "dtype": "auto", "max_model_len": 4096,
                  "thinking_format": "s1", "gpus": 0, "gpu_memory_utilization": 0.9,
                  "decoding": {"temperature": 0.0, "top_p": 1.0}, "system_prompt": None,
                  "gpu_kind": "A100-80GB"}
TASK_DEFAULTS = {"limit": None, "samples": 1}
GENERATION_DEFAULTS = {"max_gen_toks": 1024, "apply_chat_template": True, "seed": DEFAULT_SEED,
                       "checkpoint_every": 64}
# the oracle grid and the statistics (eigscale.pipeline.frontier, .stats)
ANALYSIS_DEFAULTS = {"oracle_step": 16, "oracle_max_thinking": "auto", "bootstrap": 10_000,
                     "confidence": 0.95, "seed": 0, "control_draws": 200,
                     "oracle_answer_tokens": 4096}

# generation and model keys that change how a job runs or is billed, never what it computes
RESULT_NEUTRAL = ("checkpoint_every",)
MODEL_RESULT_NEUTRAL = ("gpu_kind",)

class ConfigError(ParamError):
    """The workflow configuration is invalid; the message names the key and the file."""


def _where(files: Sequence[str]) -> str:
    return ", ".join(str(f) for f in files) or "<config given on the command line>"


def validate(config: Mapping[str, Any], schema_path: str | Path,
             files: Sequence[str] = ()) -> dict[str, dict[str, Any]]:
    """Check `config` against the JSON schema (one error naming key, value and file), then
    expand and check its runs; returns them (see `runs`)."""
    import jsonschema

    schema = yaml.safe_load(Path(schema_path).read_text())
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(dict(config)), key=lambda e: list(e.path))
    if errors:
        e = errors[0]
        key = ".".join(str(p) for p in e.path) or "<top level>"
        raise ConfigError(f"config error in {_where(files)}: key '{key}': {e.message}",
                          param=key, value=e.instance, source=_where(files))
    for model, entry in config["models"].items():
        engine = entry.get("engine", MODEL_DEFAULTS["engine"])
        if engine not in ENGINES:
            raise ConfigError(f"config error in {_where(files)}: key 'models.{model}.engine': "
                              f"unknown engine {engine!r}; valid: {', '.join(ENGINES)}",
                              param=f"models.{model}.engine", value=engine, source=_where(files))
    unknown = sorted(set(config["tasks"]) - set(ANSWER_KIND))
    if unknown:
        raise ConfigError(f"config error in {_where(files)}: key 'tasks.{unknown[0]}': unknown "
                          f"task {unknown[0]!r}; shipped: {', '.join(ANSWER_KIND)}",
                          param=f"tasks.{unknown[0]}", value=unknown[0], source=_where(files))
    return runs(config, files)  # presets, sweeps and scaler params are checked too


def _resolve(name: str, spec: Mapping[str, Any], presets: Mapping[str, Any],
             files: Sequence[str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    scaler = None
    if "preset" in spec:
        preset = presets.get(spec["preset"]) or BUILTIN_PRESETS.get(spec["preset"])
        if preset is None:
            known = sorted(set(presets) | set(BUILTIN_PRESETS))
            raise ConfigError(f"config error in {_where(files)}: key '{name}.preset': unknown "
                              f"preset {spec['preset']!r}; known: {', '.join(known)}",
                              param=f"{name}.preset", value=spec["preset"], source=_where(files))
        scaler = preset.get("scaler")
        params.update(preset.get("params") or {})
    key = f"{name}.scaler" if "scaler" in spec else f"presets.{spec.get('preset')}.scaler"
    scaler = spec.get("scaler", scaler)
    if scaler is None:
        raise ConfigError(f"config error in {_where(files)}: key '{name}': needs a scaler "
                          f"(or a preset that has one)", param=name, source=_where(files))
    if scaler not in SCALERS:
        raise ConfigError(f"config error in {_where(files)}: key '{key}': unknown scaler "
                          f"{scaler!r}; valid: {', '.join(SCALERS)}", param=key, value=scaler,
                          source=_where(files))
    params.update(spec.get("params") or {})
    return {"scaler": scaler, "params": params}


def seeded(name: str, seeds: Sequence[int] | None) -> list[tuple[str, int | None]]:
    """(name, seed) of each seed of a run or sweep listing `seeds`: `<name>_s<seed>`; the
    name alone, seed None (the generation seed), without a list."""
    return [(f"{name}_s{seed}", seed) for seed in seeds] if seeds else [(name, None)]


def runs(config: Mapping[str, Any], files: Sequence[str] = ()) -> dict[str, dict[str, Any]]:
    """Every named run: config `runs` plus each sweep expanded to `<sweep>_<value>`; a run or
    sweep that lists `seeds` once per seed (`<run>_s<seed>`, `<sweep>_s<seed>_<value>`, each
    sweep seed its own sweep: its own replay trace).

    A run is {"scaler", "params", "sweep", "vary", "value", "replay", "seed", "pooled",
    "group"}: `seed` the listed seed (None: the generation seed), `pooled` the name its seeds
    share (the run, or `<sweep>_<value>`: the analysis pools them), `group` the sweep's own
    name. Its params are validated by the scaler's own parameter class (unknown names, wrong
    types: errors naming them and the file).
    """
    presets = config.get("presets") or {}
    out: dict[str, dict[str, Any]] = {}
    for name, spec in (config.get("runs") or {}).items():
        base = _resolve(f"runs.{name}", spec, presets, files)
        for run, seed in seeded(name, spec.get("seeds")):
            out[run] = {"scaler": base["scaler"], "params": _with_seed(base["params"], seed),
                        "sweep": None, "vary": None, "value": None, "replay": False,
                        "seed": seed, "pooled": name, "group": None}
    for group, spec in (config.get("sweeps") or {}).items():
        base = _resolve(f"sweeps.{group}", spec, presets, files)
        for sweep, seed in seeded(group, spec.get("seeds")):
            for value in spec["values"]:
                name = f"{sweep}_{value}"
                if name in out:
                    raise ConfigError(f"config error in {_where(files)}: run name {name!r} "
                                      f"from sweep '{group}' is defined twice",
                                      param=f"sweeps.{group}", value=value,
                                      source=_where(files))
                out[name] = {"scaler": base["scaler"],
                             "params": _with_seed({**base["params"], spec["vary"]: value}, seed),
                             "sweep": sweep, "vary": spec["vary"], "value": value,
                             "replay": bool(spec.get("replay", False)), "seed": seed,
                             "pooled": f"{group}_{value}", "group": group}
    if not out:
        raise ConfigError(f"config error in {_where(files)}: no runs and no sweeps defined",
                          param="runs", source=_where(files))
    scalers = {}
    for name, run in out.items():
        try:
            scalers[name] = make_scaler(run["scaler"], run["params"],
                                        source=f"{_where(files)}: run '{name}'")
        except ParamError as e:
            raise ConfigError(str(e), param=e.param, value=e.value, source=e.source) from e
    check_lengths(config, out, scalers, files)
    for members in sweeps_of(out).values():
        first = out[members[0]]
        try:
            type(scalers[members[0]]).check_sweep(
                [scalers[m] for m in members], first["vary"],
                source=f"{_where(files)}: key 'sweeps.{first['group']}.values'")
        except ParamError as e:
            raise ConfigError(str(e), param=f"sweeps.{first['group']}.values", value=e.value,
                              source=e.source) from e
    for sweep, members in replay_sweeps(out).items():
        try:
            check_replayable([scalers[m] for m in members],
                             source=f"{_where(files)}: key 'sweeps.{sweep}.replay'")
        except ParamError as e:
            raise ConfigError(str(e), param=e.param, value=e.value, source=e.source) from e
    return out


def _with_seed(params: Mapping[str, Any], seed: int | None) -> dict[str, Any]:
    return {**params, "seed": seed} if seed is not None else dict(params)


def check_lengths(config: Mapping[str, Any], runs: Mapping[str, Mapping[str, Any]],
                  scalers: Mapping[str, Any], files: Sequence[str] = ()) -> None:
    """What can be checked of the lengths before any prompt is known (eigscale.lengths checks
    the rest, per question, before the first engine call): max_gen_toks at most each model's
    max_model_len (equal is the paper's setting: the budget is then derived from the longest
    prompt), and an explicit thinking budget plus the forced answer's least room inside it."""
    gen = generation_settings(config)
    for model in config["models"]:
        limit = model_settings(config, model)["max_model_len"]
        if gen["max_gen_toks"] > limit:
            raise ConfigError(
                f"config error in {_where(files)}: key 'generation.max_gen_toks': "
                f"{gen['max_gen_toks']} exceeds models.{model}.max_model_len={limit}; the "
                "prompt must fit too (max_gen_toks == max_model_len derives the budget from "
                "the longest prompt, as s1 does)", param="generation.max_gen_toks",
                value=gen["max_gen_toks"], source=_where(files))
        for name, scaler in scalers.items():
            p = scaler.params
            budget = getattr(p, "max_tokens_thinking", "auto")
            if budget != "auto" and budget + p.min_answer_tokens >= limit:
                raise ConfigError(
                    f"config error in {_where(files)}: run '{name}': max_tokens_thinking="
                    f"{budget} + min_answer_tokens={p.min_answer_tokens} leaves no room for a "
                    f"prompt in models.{model}.max_model_len={limit}",
                    param=f"runs.{name}.max_tokens_thinking", value=budget, source=_where(files))


def sweeps_of(runs: Mapping[str, Mapping[str, Any]]) -> dict[str, list[str]]:
    """{sweep: its run names} (each seed of a sweep its own sweep)."""
    out: dict[str, list[str]] = {}
    for name, run in runs.items():
        if run.get("sweep"):
            out.setdefault(run["sweep"], []).append(name)
    return out


def replay_sweeps(runs: Mapping[str, Mapping[str, Any]]) -> dict[str, list[str]]:
    """{sweep: its run names} of the sweeps with `replay: true` (one job each)."""
    return {sweep: members for sweep, members in sweeps_of(runs).items()
            if runs[members[0]].get("replay")}


def sorted_keys(obj: Any) -> Any:
    """Dicts with sorted keys, recursively: snakemake compares params by their text, and the
    same settings written in another key order must not rerun a job."""
    if isinstance(obj, Mapping):
        return {k: sorted_keys(obj[k]) for k in sorted(obj)}
    if isinstance(obj, list):
        return [sorted_keys(x) for x in obj]
    return obj


def model_settings(config: Mapping[str, Any], model: str) -> dict[str, Any]:
    entry = config["models"][model]
    return {**MODEL_DEFAULTS, **entry,
            "decoding": {**MODEL_DEFAULTS["decoding"], **(entry.get("decoding") or {})}}


def _result_model(config: Mapping[str, Any], model: str) -> dict[str, Any]:
    return {k: v for k, v in model_settings(config, model).items()
            if k not in MODEL_RESULT_NEUTRAL}


def task_settings(config: Mapping[str, Any], model: str, task: str) -> dict[str, Any]:
    """A task's settings for one model: its `samples` is the traces that model draws per
    question (1 for a greedy model: its traces would all be the same)."""
    out = {"name": task, **TASK_DEFAULTS, **(config["tasks"][task] or {})}
    if model_settings(config, model)["decoding"]["temperature"] == 0:
        out["samples"] = 1
    return out


def generation_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    return {**GENERATION_DEFAULTS, **(config.get("generation") or {})}


def analysis_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    return {**ANALYSIS_DEFAULTS, **(config.get("analysis") or {})}


def oracle_cap(config: Mapping[str, Any], runs: Mapping[str, Mapping[str, Any]]) -> int | str:
    """The oracle trace's thinking cap: analysis.oracle_max_thinking, or ("auto") the largest
    explicit cap of any run, so that the grid spans every rule's range ("auto" again, the
    budget derived from max_gen_toks, if no run has one)."""
    cap = analysis_settings(config)["oracle_max_thinking"]
    if cap != "auto":
        return int(cap)
    caps = [r["params"].get("max_tokens_thinking") for r in runs.values()]
    return max((c for c in caps if isinstance(c, int)), default="auto")


def oracle_of(config: Mapping[str, Any], runs: Mapping[str, Mapping[str, Any]], model: str,
              task: str) -> dict[str, Any]:
    """Everything the oracle grid of (model, task) depends on, as `settings_of` gives a run's:
    its trace is a greedy budget_forcing run without extensions, capped at `oracle_cap`."""
    gen = {k: v for k, v in generation_settings(config).items() if k not in RESULT_NEUTRAL}
    trace = {"scaler": "budget_forcing",
             "params": {"max_tokens_thinking": oracle_cap(config, runs)}}
    analysis = analysis_settings(config)
    return sorted_keys({"run": trace, "oracle": {"step": analysis["oracle_step"],
                                                 "answer_tokens": analysis["oracle_answer_tokens"]},
                      "model": _result_model(config, model),
                      "task": task_settings(config, model, task),
                      "generation": gen})


def settings_of(config: Mapping[str, Any], runs: Mapping[str, Mapping[str, Any]], model: str,
                task: str, run: str) -> dict[str, Any]:
    """Everything one evaluation's result depends on (a change reruns its job alone), in
    canonical key order. Settings that cannot change a result (checkpoint_every) are left out:
    changing them must not rerun anything."""
    gen = {k: v for k, v in generation_settings(config).items() if k not in RESULT_NEUTRAL}
    return sorted_keys({"run": runs[run], "model": _result_model(config, model),
                      "task": task_settings(config, model, task),
                      "generation": gen})
