"""The bill of a workflow config before launch: every GPU job, the tokens its budgets allow,
their FLOPs and the GPU-hours at an assumed throughput.

Per trace (a question, or one of its k sampled traces), with G = generation.max_gen_toks, T a
run's thinking cap (max_tokens_thinking; "auto": G - min_answer_tokens) and P the prompt
(`bill.prompt_tokens`, assumed: the dry run reads no dataset):

- main: the reasoning and the answers, at most G per answered run (a run that thinks t tokens
  answers in at most G - t); a replay sweep of n runs: at most n G, its trace shared (the
  tracer's own answer has G - T* left), as n live runs; the oracle: its trace and, at every
  oracle_step tokens of it, an answer of at most analysis.oracle_answer_tokens.
- of which reasoning: the thinking traced. A live thinking run: T (the baseline: 0); a replay
  sweep: its tracer's T* once, whatever the number of runs (what replay saves); the oracle: its
  trace's cap.
- side: each rule's probes, candidates, forecasts and trial answers (`Scaler.side_bound`); a
  replay sweep's are its tracer's, the most permissive setting's.
- prefill: the prompt once, and at most SIDE_PREFILL uncached tokens per side request and per
  reasoning round (the answer prompt and a partial KV block: the context before it is in the
  prefix cache).

FLOPs are eigscale.compute's: 2 N per processed token, plus the attention over each token's
context, bounded by P + G. GPU-hours: FLOPs over the GPU's sustained FLOP/s, an assumption
(`bill.flops_per_second` per GPU kind; default THROUGHPUT_SHARE of the kind's dense bf16 peak,
PEAK_FLOPS). The bill is an upper bound on tokens: a run that stops early, or answers in 20
tokens, costs a fraction of it; its use is to compare configs and to size a cluster request.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from eigscale.compute import ModelShape
from eigscale.pipeline.run_config import (
    analysis_settings,
    generation_settings,
    model_settings,
    oracle_cap,
    replay_sweeps,
    task_settings,
)
from eigscale.scalers import make_scaler
from eigscale.scalers.replay import tracer_of

# dense bf16 tensor-core peak per GPU (vendor datasheets; V100: fp16)
PEAK_FLOPS = {"A100-40GB": 312e12, "A100-80GB": 312e12, "H100-80GB": 989e12,
              "H200": 989e12, "L40S": 362e12, "A10": 125e12, "V100": 125e12,
              # this machine's 2 cores: 20% of it is what was measured, ~80 tok/s x 2 x 135M
              "cpu": 1e11}
# the share of peak a decode-heavy vLLM job is assumed to sustain (decoding is bound by memory
# bandwidth: batched decode of a small model reaches a fraction of the tensor-core peak)
THROUGHPUT_SHARE = 0.2
SIDE_PREFILL = 64  # uncached prompt tokens per side request or round (see the module doc)
# the questions of each shipped task's evaluated split
TASK_SIZES = {"math500": 500, "openai_math": 500, "aime24": 30, "gpqa_diamond": 198,
              "gsm8k": 1319, "demo_arith": 100}
# model shapes of the paper's models where no config.json is at hand (their config.json on the
# hub: both are Qwen2.5-Math-1.5B decoders)
QWEN2_5_1_5B = {"hidden_size": 1536, "num_hidden_layers": 28, "num_attention_heads": 12,
                "num_key_value_heads": 2, "intermediate_size": 8960, "vocab_size": 151936}
KNOWN_SHAPES = {"hf:deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B": QWEN2_5_1_5B,
                "hf:simplescaling/s1.1-1.5B": QWEN2_5_1_5B}


@dataclass
class JobBill:
    """One GPU job's bound: tokens over all its traces."""

    job: str  # evaluate, evaluate_replay or oracle (the workflow's rule)
    model: str
    task: str
    name: str  # the run, the replay sweep, or "oracle"
    runs: int  # the evaluations it makes
    traces: int  # questions x sampled traces per question
    main: float  # reasoning and answers
    reasoning: float  # of which the thinking traced
    side: float
    prefill: float
    flops: float
    gpu_hours: float

    @property
    def generated(self) -> float:
        return self.main + self.side


def flops_per_second(config: Mapping[str, Any], kind: str) -> float:
    """The sustained FLOP/s assumed for one GPU of this kind."""
    given = ((config.get("bill") or {}).get("flops_per_second") or {}).get(kind)
    if given:
        return float(given)
    if kind not in PEAK_FLOPS:
        raise ValueError(f"no throughput known for GPU kind {kind!r}: set bill.flops_per_second."
                         f"{kind} (known kinds: {', '.join(PEAK_FLOPS)})")
    return THROUGHPUT_SHARE * PEAK_FLOPS[kind]


def model_shape(config: Mapping[str, Any], model: str, models_dir: Path) -> ModelShape | None:
    """The model's shape: its prepared folder's config.json, or a known hub model's."""
    local = models_dir / model / "config.json"
    if local.exists():
        return ModelShape.from_config(json.loads(local.read_text()))
    known = KNOWN_SHAPES.get(config["models"][model]["source"])
    return ModelShape.from_config(known) if known else None


def _cap(scaler: Any, gen: int) -> int:
    """A run's thinking cap in tokens (0 for a rule without thinking)."""
    p = scaler.params
    cap = getattr(p, "max_tokens_thinking", None)
    if cap is None:
        return 0
    return min(gen, int(cap)) if cap != "auto" else max(0, gen - p.min_answer_tokens)


def _flops(shape: ModelShape | None, generated: float, prefill: float, prompt: int,
           gen: int) -> float:
    if shape is None:
        return math.nan
    contexts = prompt * prompt / 2 + (generated + prefill - prompt) * (prompt + gen)
    return 2 * shape.params * (generated + prefill) \
        + 4 * shape.layers * shape.attention_width * contexts


@dataclass(frozen=True)
class _Jobs:
    """What the jobs of one (model, task) share: its traces, the model's shape and throughput,
    the prompt assumed and the generation budget."""

    model: str
    task: str
    traces: int
    shape: ModelShape | None
    rate: float  # FLOP/s
    prompt: int
    gen: int

    def job(self, kind: str, name: str, runs: int, main: float, reasoning: float,
            side: tuple[int, int], rounds: int) -> JobBill:
        """A job's bill from its per-trace bounds: tokens of the main text and of reasoning,
        side (requests, tokens), and its reasoning rounds."""
        n = self.traces
        prefill = self.prompt + SIDE_PREFILL * (side[0] + rounds)
        flops = n * _flops(self.shape, main + side[1], prefill, self.prompt, self.gen)
        return JobBill(kind, self.model, self.task, name, runs, n, n * main, n * reasoning,
                       n * side[1], n * prefill, flops,
                       flops / self.rate / 3600 if not math.isnan(flops) else math.nan)


def bill(config: Mapping[str, Any], runs: Mapping[str, Mapping[str, Any]],
         models_dir: Path = Path("resources/models")) -> list[JobBill]:
    """Every GPU job of the workflow for this config (runs: pipeline.run_config.runs), as the
    workflow makes them: per model and task the oracle, one job per live run, one per replay
    sweep."""
    gen = int(generation_settings(config)["max_gen_toks"])
    analysis = analysis_settings(config)
    prompt = int((config.get("bill") or {}).get("prompt_tokens", 256))
    scalers = {name: make_scaler(r["scaler"], r["params"]) for name, r in runs.items()}
    sweeps = replay_sweeps(runs)
    replayed = {m for members in sweeps.values() for m in members}
    out = []
    for model in config["models"]:
        shape = model_shape(config, model, models_dir)
        rate = flops_per_second(config, model_settings(config, model)["gpu_kind"])
        for task in config["tasks"]:
            t = task_settings(config, model, task)
            questions = min(t["limit"] or TASK_SIZES.get(task, 0), TASK_SIZES.get(task, 10**9))
            n = questions * t["samples"]

            job = _Jobs(model, task, n, shape, rate, prompt, gen).job
            cap = oracle_cap(config, runs)
            cap = min(gen, int(cap)) if cap != "auto" else gen
            cuts = cap // analysis["oracle_step"] + 1
            out.append(job("oracle", "oracle", 1,
                           cap + cuts * min(gen, analysis["oracle_answer_tokens"]), cap,
                           (cuts, 0), 1))
            for name, s in scalers.items():
                if name in replayed:
                    continue
                think = _cap(s, gen)
                step = getattr(s.params, "step_tokens", 0)  # a reasoning round per step
                out.append(job("evaluate", name, 1, gen, think, s.side_bound(think),
                               1 + (think // step if step else 0)))
            for sweep, members in sweeps.items():
                tracer = tracer_of([scalers[m] for m in members])
                think = _cap(tracer, gen)
                out.append(job("evaluate_replay", sweep, len(members), len(members) * gen,
                               think, tracer.side_bound(think), 1 + len(members)))
    return out


def totals(jobs: Sequence[JobBill]) -> dict[str, float]:
    keys = ("runs", "traces", "main", "reasoning", "side", "prefill", "flops", "gpu_hours")
    out: dict[str, float] = {"jobs": len(jobs)}
    for k in keys:
        out[k] = float(sum(getattr(j, k) for j in jobs))
    out["generated"] = out["main"] + out["side"]
    return out


def _si(x: float) -> str:
    if math.isnan(x):
        return "?"
    for unit, scale in (("E", 1e18), ("P", 1e15), ("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= scale:
            return f"{x / scale:.3g}{unit}"
    return f"{x:.3g}"


def render(jobs: Sequence[JobBill], config: Mapping[str, Any], per_job: bool = True) -> str:
    """The bill as a Markdown table (per job, then per job kind and the total) with its
    assumptions."""
    head = ("| job | model | task | run / sweep | runs | traces | generated ≤ | of which "
            "reasoning ≤ | side ≤ | prefill ≤ | FLOPs ≤ | GPU-h ≤ |\n|---|---|---|---|---|---|---|"
            "---|---|---|---|---|")
    lines = [head]

    def row(j: Mapping[str, Any], *ids: str) -> str:
        return (f"| {' | '.join(ids)} | {int(j['runs'])} | {int(j['traces'])} | "
                f"{_si(j['main'] + j['side'])} | {_si(j['reasoning'])} | {_si(j['side'])} | "
                f"{_si(j['prefill'])} | {_si(j['flops'])} | {j['gpu_hours']:.3g} |")

    if per_job:
        lines += [row(asdict(j), j.job, j.model, j.task, j.name) for j in jobs]
    for kind in dict.fromkeys(j.job for j in jobs):
        mine = [j for j in jobs if j.job == kind]
        lines.append(row(totals(mine), f"**{kind}: {len(mine)} jobs**", "", "", ""))
    t = totals(jobs)
    lines.append(row(t, f"**total: {len(jobs)} GPU jobs**", "", "", ""))
    kinds = sorted({model_settings(config, m)["gpu_kind"] for m in config["models"]})
    rates = ", ".join(f"{k} {_si(flops_per_second(config, k))}FLOP/s" for k in kinds)
    prompt = (config.get("bill") or {}).get("prompt_tokens", 256)
    lines += ["", f"Tokens generated ≤ {_si(t['generated'])} (reasoning and answers "
              f"{_si(t['main'])}, of which reasoning traced {_si(t['reasoning'])}; side "
              f"{_si(t['side'])}), prefilled ≤ "
              f"{_si(t['prefill'])}; FLOPs ≤ {_si(t['flops'])}; GPU-hours ≤ "
              f"{t['gpu_hours']:.3g}.",
              f"Assumed: {prompt} prompt tokens per question (bill.prompt_tokens); sustained "
              f"{rates} per GPU (bill.flops_per_second; default {THROUGHPUT_SHARE:.0%} of the "
              "kind's dense bf16 peak). Upper bounds: a run that stops early or answers "
              "briefly costs a fraction (eigscale.pipeline.bill)."]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """eigscale-bill [--totals] [--schema FILE] [CONFIG]: the bill of a workflow config
    (default config/config.yaml) before launch, as Markdown on stdout."""
    import argparse

    import yaml

    from eigscale.errors import ParamError
    from eigscale.pipeline.run_config import validate

    parser = argparse.ArgumentParser(prog="eigscale-bill", description=main.__doc__)
    parser.add_argument("config", nargs="?", default="config/config.yaml")
    parser.add_argument("--schema", default="workflow/schemas/config.schema.yaml")
    parser.add_argument("--totals", action="store_true", help="per job kind and total only")
    parser.add_argument("--models-dir", default="resources/models",
                        help="prepared model folders (their config.json gives the shape)")
    args = parser.parse_args(argv)
    config = yaml.safe_load(Path(args.config).read_text(encoding="utf-8"))
    try:
        runs = validate(config, args.schema, [args.config])
        jobs = bill(config, runs, Path(args.models_dir))
        text = render(jobs, config, per_job=not args.totals)
    except (ParamError, ValueError) as e:
        print(f"eigscale-bill: error: {e}", flush=True)
        return 2
    print(f"# The bill of {args.config}, before launch\n\n{text}", end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
