"""lm-eval's gen_kwargs for a scaler: which keys are lm-eval's, which are the scaler's.

`scaler_from_gen_kwargs` turns one task's gen_kwargs into a scaler, the stop strings, the token
limit and the main decoding. Scaler keys never reach vLLM's SamplingParams or transformers'
generate: they are consumed here.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from eigscale.errors import ParamError
from eigscale.lmeval.tasks import ANSWER_KIND
from eigscale.params import DEFAULT_SEED
from eigscale.scalers import SCALERS, Decoding, Scaler, make_scaler

SWITCH = "scale_func_name"
# lm-eval's own generation keys (lm_eval.models.utils.normalize_gen_kwargs gives them their
# meaning: aliases of max_gen_toks, do_sample=False -> greedy whatever the temperature)
# lm-eval's own default max_gen_toks: what a job's token limit is when the gen_kwargs and the
# model give none (and all a check of the gen_kwargs alone needs)
LM_EVAL_MAX_GEN_TOKS = 256
LM_EVAL_KEYS = ("until", "max_gen_toks", "max_new_tokens", "max_tokens",
                "max_completion_tokens", "do_sample", "temperature", "top_p")


@dataclass
class ScalerJob:
    """What one task's gen_kwargs ask for."""

    scaler: Scaler
    until: list[str]
    max_gen_toks: int
    decoding: Decoding


def all_scaler_keys() -> set[str]:
    keys = {SWITCH, "thinking_format"}
    for cls in SCALERS.values():
        keys |= set(cls.params_class.names())
    return keys


def scaler_from_gen_kwargs(gen_kwargs: Mapping[str, Any],
                           default_max_gen_toks: int = LM_EVAL_MAX_GEN_TOKS,
                           source: str = "--gen_kwargs") -> ScalerJob:
    """Split gen_kwargs into lm-eval's keys (normalised by lm-eval itself) and the scaler's
    (validated by `make_scaler`, the one place that checks scaler names and parameters: a
    ParamError names any unknown key)."""
    from lm_eval.models.utils import normalize_gen_kwargs

    kw = dict(gen_kwargs)
    name = kw.pop(SWITCH)
    cls = SCALERS.get(name)
    own = set(cls.params_class.names()) if cls else set()
    # EIG's temperature/top_p are its own sampling knobs (the seed's): not lm-eval's
    lm = {k: kw.pop(k) for k in list(kw) if k in LM_EVAL_KEYS and k not in own}
    norm = normalize_gen_kwargs(lm, default_max_gen_toks)
    scaler = make_scaler(name, kw, source=source)
    if "temperature" in own:
        # the main reasoning decodes greedily, like the greedy baselines it is compared with
        if lm.get("do_sample"):
            warnings.warn(f"{source}: do_sample is ignored by {name}: its main reasoning is "
                          "greedy; temperature/top_p set its candidate and MC sampling",
                          stacklevel=2)
        decoding = Decoding()
    else:
        temperature = float(norm.get("temperature", 0.0))
        decoding = Decoding(temperature=temperature,
                            top_p=float(norm.get("top_p", 1.0)) if temperature > 0 else 1.0)
    return ScalerJob(scaler, list(norm["until"]), int(norm["max_gen_toks"]), decoding)


def main_decoding(temperature: float, top_p: float, seed: int = DEFAULT_SEED) -> Decoding:
    """A model's main decoding (model_args eigscale_temperature, eigscale_top_p and the traces'
    seed, eigscale_trace_seed), checked."""
    t, p = float(temperature), float(top_p)
    if t < 0:
        raise ParamError(f"eigscale_temperature must be >= 0, not {temperature}",
                         param="eigscale_temperature", value=temperature)
    if not 0 < p <= 1:
        raise ParamError(f"eigscale_top_p must be in (0, 1], not {top_p}",
                         param="eigscale_top_p", value=top_p)
    return Decoding(t, p if t > 0 else 1.0, int(seed))


def with_model_decoding(job: ScalerJob, decoding: Decoding, source: str) -> ScalerJob:
    """The job with the model's main decoding where the model samples (every rule decodes
    its main text as the model's authors do); a gen_kwargs temperature that says otherwise
    is an error naming both. A greedy model leaves the gen_kwargs' own decoding."""
    if decoding.temperature == 0:
        return job
    if job.decoding.temperature > 0 and job.decoding != decoding:
        raise ParamError(f"{source}: the gen_kwargs decode with temperature "
                         f"{job.decoding.temperature}, top_p {job.decoding.top_p}; the model's "
                         f"decoding is temperature {decoding.temperature}, top_p "
                         f"{decoding.top_p}: set one", param="temperature",
                         value=job.decoding.temperature, source=source)
    return replace(job, decoding=decoding)


def check_gen_kwargs(gen_kwargs: Mapping[str, Any] | None, source: str = "--gen_kwargs") -> None:
    """Fail early (before any model loads) on gen_kwargs a scaler run would refuse."""
    gen_kwargs = dict(gen_kwargs or {})
    if SWITCH in gen_kwargs:
        scaler_from_gen_kwargs(gen_kwargs, source=source)
        return
    stray = sorted(set(gen_kwargs) & (all_scaler_keys() - {"temperature", "top_p", "seed"}))
    if stray:
        raise ParamError(f"{source}: scaler key(s) {', '.join(map(repr, stray))} given without "
                         f"{SWITCH}; add {SWITCH}=<{'|'.join(SCALERS)}>")


def with_answer_kind(gen_kwargs: Mapping[str, Any], task: str) -> dict[str, Any]:
    """gen_kwargs with the task's answer equivalence for a scaler that takes one (EIG's
    classes are the grader's), unless the caller set it."""
    out = dict(gen_kwargs)
    cls = SCALERS.get(out.get(SWITCH, ""))
    if cls and "answer_kind" in cls.params_class.names() and task in ANSWER_KIND:
        out.setdefault("answer_kind", ANSWER_KIND[task])
    return out
