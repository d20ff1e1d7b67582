"""Engines behind one protocol (`eigscale.engines.base.Engine`), by name: `ENGINES`, the one
registry (the workflow's model entries, `eigscale-run --engine` and the lm-eval models read it).
An engine is its module (the class, imported on first use) and its entry here."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from eigscale.engines.base import (
    Completion,
    Engine,
    EngineCounters,
    EngineFailure,
    GenerateRequest,
    GenerateResult,
    ScoreRequest,
    ScoreResult,
)


def _vllm_args(model: Mapping[str, Any], gpus: int) -> dict[str, Any]:
    # vLLM sizes its KV cache from the context and the memory share; one model over the GPUs
    args = {"max_model_len": model["max_model_len"],
            "gpu_memory_utilization": model["gpu_memory_utilization"]}
    return {**args, "tensor_parallel_size": gpus} if gpus > 0 else args


def _hf_args(model: Mapping[str, Any], gpus: int) -> dict[str, Any]:
    return {"parallelize": True} if gpus > 1 else {}  # lm-eval's HFLM: layers over the GPUs


@dataclass(frozen=True)
class EngineSpec:
    """What the package knows of an engine before loading it."""

    engine: str
    """"module:Class" of the Engine, imported on first use (vLLM and torch load slowly)."""

    lm_eval_model: str
    """The lm-eval model (eigscale.lmeval.models) that runs it under `eigscale-eval`."""

    model_args: Callable[[Mapping[str, Any], int], dict[str, Any]]
    """The lm-eval model_args it takes from a workflow model entry and the job's GPU count,
    beyond the model folder and dtype."""

    def load_class(self) -> type[Engine]:
        module, _, name = self.engine.partition(":")
        return getattr(importlib.import_module(module), name)


ENGINES = {
    "vllm": EngineSpec("eigscale.engines.vllm:VLLMEngine", "vllm_eig", _vllm_args),
    "hf": EngineSpec("eigscale.engines.hf:HFEngine", "hf_eig", _hf_args),
}

__all__ = ["ENGINES", "Completion", "Engine", "EngineCounters", "EngineFailure", "EngineSpec",
           "GenerateRequest", "GenerateResult", "ScoreRequest", "ScoreResult", "make_engine"]


def make_engine(name: str, model_path: str, **kwargs: Any) -> Engine:
    """Start engine `name` (one of ENGINES) on a prepared model folder.

    kwargs go to the engine's `load` (dtype, max_model_len, tensor_parallel_size, ...).
    """
    if name not in ENGINES:
        raise ValueError(f"unknown engine {name!r}; valid: {', '.join(ENGINES)}")
    return ENGINES[name].load_class().load(model_path, **kwargs)
