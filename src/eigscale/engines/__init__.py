"""Engines behind one protocol (`eigscale.engines.base.Engine`): `vllm` and `hf`."""

from __future__ import annotations

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

ENGINES = ("vllm", "hf")

__all__ = ["ENGINES", "Completion", "Engine", "EngineCounters", "EngineFailure", "GenerateRequest",
           "GenerateResult", "ScoreRequest", "ScoreResult", "make_engine"]


def make_engine(name: str, model_path: str, **kwargs: Any) -> Engine:
    """Start engine `name` ("vllm" or "hf") on a prepared model folder.

    kwargs go to the engine's constructor (dtype, max_model_len, tensor_parallel_size, ...).
    """
    if name == "vllm":
        from eigscale.engines.vllm import VLLMEngine

        return VLLMEngine.load(model_path, **kwargs)
    if name == "hf":
        from eigscale.engines.hf import HFEngine

        return HFEngine.load(model_path, **kwargs)
    raise ValueError(f"unknown engine {name!r}; valid: {', '.join(ENGINES)}")
