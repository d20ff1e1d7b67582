"""The stopping rules ("scalers") by name: `SCALERS`, the one registry every list of rules is
derived from, and `make_scaler(name, kwargs)`, the one way in from configs and gen_kwargs.

A rule is one module, which declares everything about it on its class (eigscale.scalers.base):
`plain` (none), `budget_forcing`, `eig_reasoning`, `answer_entropy`, `dynasor`, `deer`. What
they share: `base` (the contract), `thinking` (the lockstep loop and the forced answer),
`posterior` (the answer posterior at checkpoints, for EIG and answer entropy), `cuts` and
`replay` (a sweep from one trace), `cut_grid` (the oracle grid's forced answers).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eigscale.errors import ParamError
from eigscale.params import ThinkingParams, apply_thinking_format
from eigscale.records import COMMON_STOP_REASONS
from eigscale.scalers.answer_entropy import AnswerEntropy
from eigscale.scalers.base import Decoding, Scaler, ScalerOutput
from eigscale.scalers.budget_forcing import BudgetForcing
from eigscale.scalers.deer import DEER
from eigscale.scalers.dynasor import DynasorCoT
from eigscale.scalers.eig_reasoning import EIGReasoning
from eigscale.scalers.plain import Plain

SCALERS: dict[str, type[Scaler]] = {s.name: s for s in (Plain, BudgetForcing, EIGReasoning,
                                                       AnswerEntropy, DynasorCoT, DEER)}
# every stop reason a record may carry, the shared ones first
STOP_REASONS = tuple(dict.fromkeys([*COMMON_STOP_REASONS,
                                    *(r for s in SCALERS.values() for r in s.stop_reasons)]))

__all__ = ["SCALERS", "STOP_REASONS", "Decoding", "Scaler", "ScalerOutput", "make_scaler"]


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
