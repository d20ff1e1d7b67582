"""config/paper.yaml at its own shape, scaled down to the tiny model (tests/test_paper_shape.py).

Derived from the paper grid itself, so that the two cannot drift and a rule added to the grid is
tested at its shape with no second file to edit:

- each model becomes "<thinking format>-shape" on the session's converted SmolLM2, vLLM,
  float32, with max_model_len = max_gen_toks = CONTEXT (the paper: 32768 == 32768);
- each model decodes as the paper's model of its format does (R1: sampled at T 0.6, top-p
  0.95; s1: greedy) with its system prompt;
- the task is demo_arith, QUESTIONS question(s), SAMPLES sampled traces each for a model that
  samples (one question: the suite's time; the R1 shape still decodes two traces);
  generation and analysis as the paper's (the chat template applied, the seed, the oracle's
  step; its answer bound scales as a token length);
- every token length scales by CONTEXT / the paper's context (8000 -> 125, 512 -> 8), and a
  decision grid's spacing (step_tokens, probe_interval) is at most the oracle's step, so a
  125-token trace still meets decision points;
- a decision's time limit (max_computation_time, a GPU's 30 s in the paper) is the parameter's
  largest on 2 CPU cores shared by two test workers: what it guards is the hardware's, and
  a decision that runs out of it fails the question by design, not by a bug;
- every run is kept; every sweep keeps one value: a cap sweep its smallest cap, scaled; any
  other its value nearest the rule's default; a run or sweep listing seeds keeps its first
  (a seed varies a rule's own sampling, never the trace: their expansion and pooling are
  tested in tests/test_oracle_analysis.py).
"""

from __future__ import annotations

from typing import Any

from eigscale.pipeline.run_config import ANALYSIS_DEFAULTS, BUILTIN_PRESETS
from eigscale.scalers import SCALERS

CONTEXT = 512
QUESTIONS = 1
SAMPLES = 2
CPU_TIME_LIMIT = 300.0  # max_computation_time's largest value
LENGTHS = ("max_tokens_thinking",)
SPACINGS = ("step_tokens", "probe_interval")


def _scaled(params: dict[str, Any], factor: float, step: int) -> dict[str, Any]:
    out = dict(params)
    for key in LENGTHS:
        if isinstance(out.get(key), int):
            out[key] = max(1, int(out[key] * factor))
    for key in SPACINGS:
        if isinstance(out.get(key), int) and out[key] > 0:
            out[key] = min(out[key], step)
    return out


def _timed(spec: dict[str, Any], presets: dict[str, Any], params: dict[str, Any]
           ) -> dict[str, Any]:
    preset = presets.get(spec.get("preset")) or BUILTIN_PRESETS.get(spec.get("preset"), {})
    rule = SCALERS[spec.get("scaler") or preset["scaler"]]
    if "max_computation_time" in rule.params_class.names():
        return {**params, "max_computation_time": CPU_TIME_LIMIT}
    return params


def _one_value(sweep: dict[str, Any], presets: dict[str, Any], factor: float) -> list:
    if sweep["vary"] in LENGTHS:
        return [max(1, int(min(sweep["values"]) * factor))]
    preset = presets.get(sweep.get("preset")) or BUILTIN_PRESETS.get(sweep.get("preset"), {})
    rule = SCALERS[sweep.get("scaler") or preset["scaler"]]
    default = getattr(rule.params_class(), sweep["vary"])
    return [min(sweep["values"], key=lambda v: (abs(v - default), v))]


def _seeds(spec: dict[str, Any], keep: int = 1) -> dict[str, Any]:
    return {"seeds": spec["seeds"][:keep]} if spec.get("seeds") else {}


def scaled_down(paper: dict[str, Any]) -> dict[str, Any]:
    """The shape config of a paper config (see the module doc)."""
    context = paper["generation"]["max_gen_toks"]
    factor, step = CONTEXT / context, paper["analysis"]["oracle_step"]
    by_format = {m["thinking_format"]: m for m in paper["models"].values()}
    presets = paper.get("presets") or {}
    return {
        "models": {f"{fmt}-shape": {"source": "local:<the session's converted SmolLM2>",
                                    "engine": "vllm", "dtype": "float32",
                                    "max_model_len": CONTEXT, "thinking_format": fmt,
                                    **{k: m[k] for k in ("decoding", "system_prompt")
                                       if k in m}}
                   for fmt, m in sorted(by_format.items())},
        "tasks": {"demo_arith": {"limit": QUESTIONS, "samples": SAMPLES}},
        "generation": {**paper["generation"], "max_gen_toks": CONTEXT},
        "analysis": {"oracle_step": step, "oracle_answer_tokens": max(1, int(
            factor * (paper.get("analysis") or {}).get(
                "oracle_answer_tokens", ANALYSIS_DEFAULTS["oracle_answer_tokens"])))},
        **({"presets": presets} if presets else {}),
        "runs": {name: {**run, **({"params": _timed(run, presets, _scaled(
                     run["params"], factor, step))} if "params" in run else {}), **_seeds(run)}
                 for name, run in paper["runs"].items()},
        "sweeps": {name: {**s, "params": _timed(s, presets, _scaled(s.get("params") or {},
                                                                      factor, step)),
                          "values": _one_value(s, presets, factor),
                          **_seeds(s)}
                   for name, s in paper["sweeps"].items()},
    }
