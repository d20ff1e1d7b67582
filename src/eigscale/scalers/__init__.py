"""The stopping rules ("scalers") by name: `SCALERS`, the one registry every list of rules is
derived from, and `make_scaler(name, kwargs)`, the one way in from configs and gen_kwargs.

A rule is one module of this package whose `Scaler` subclass sets `name`; the registry finds it
there (a rule is added by adding its module), and the class declares everything else about it
(eigscale.scalers.base). The rules: `plain` (none), `budget_forcing`, `eig_reasoning`,
`answer_entropy`, `dynasor`, `deer`, `eat`, `random_stop`. What they share: `base` (the
contract), `thinking` (the lockstep loop and the forced answer; `TransitionScaler`, the rules
that decide where the model writes a marker: DEER, EAT), `posterior` (the answer posterior
at checkpoints, for EIG and answer entropy), `cuts` and `replay` (a sweep from one trace),
`cut_grid` (the oracle grid's forced answers).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from typing import Any

from eigscale.errors import ParamError
from eigscale.params import ThinkingParams, apply_thinking_format
from eigscale.records import COMMON_STOP_REASONS
from eigscale.scalers.base import Decoding, Scaler, ScalerOutput


def _rules() -> dict[str, type[Scaler]]:
    """Every Scaler subclass that names itself in a module of this package, in name order."""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    found: dict[str, type[Scaler]] = {}
    todo = list(Scaler.__subclasses__())
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        if "name" not in vars(cls) or not cls.__module__.startswith(f"{__name__}."):
            continue  # a shared base, or a test's own subclass
        if cls.name in found and found[cls.name] is not cls:
            raise TypeError(f"two rules are called {cls.name!r}: {found[cls.name].__module__} "
                            f"and {cls.__module__}")
        found[cls.name] = cls
    return dict(sorted(found.items()))


SCALERS: dict[str, type[Scaler]] = _rules()
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
