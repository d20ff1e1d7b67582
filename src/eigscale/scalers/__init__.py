"""Scalers by name. `make_scaler(name, kwargs)` is the one way in from configs and gen_kwargs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eigscale.errors import ParamError
from eigscale.params import ThinkingParams, apply_thinking_format
from eigscale.scalers.answer_entropy import AnswerEntropy
from eigscale.scalers.base import Decoding, Scaler, ScalerOutput
from eigscale.scalers.budget_forcing import BudgetForcing
from eigscale.scalers.deer import DEER
from eigscale.scalers.dynasor import DynasorCoT
from eigscale.scalers.eig_reasoning import EIGReasoning
from eigscale.scalers.plain import Plain

SCALERS: dict[str, type[Scaler]] = {s.name: s for s in (Plain, BudgetForcing, EIGReasoning,
                                                       AnswerEntropy, DynasorCoT, DEER)}

__all__ = ["SCALERS", "Decoding", "Scaler", "ScalerOutput", "make_scaler"]


def make_scaler(name: str, kwargs: Mapping[str, Any] | None = None,
                source: str = "gen_kwargs") -> Scaler:
    """The scaler `name` with its parameters validated from `kwargs` (see eigscale.params)."""
    if name not in SCALERS:
        raise ParamError(f"{source}: unknown scale_func_name {name!r}; "
                         f"valid: {', '.join(SCALERS)}",
                         param="scale_func_name", value=name, source=source)
    cls = SCALERS[name]
    kwargs = dict(kwargs or {})
    if issubclass(cls.params_class, ThinkingParams):
        kwargs = apply_thinking_format(kwargs, source)
    return cls(cls.params_class.from_kwargs(kwargs, source=source))
