"""Code fingerprints: edit the code a run's results depend on, and that run reruns.

Each scaler's results depend on the shared evaluation path plus its own modules. The hash is of
each module's content under its module name, never of file paths: a checkout in another folder,
or an installed copy, gives the same fingerprint. `tests/test_consistency.py` checks that every
module of the package is either listed here or in `NOT_IN_RESULTS`.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

from eigscale.scalers import SCALERS

# what every evaluation runs through ("<package>.*": all its modules and data files)
SHARED = ("eigscale.answers", "eigscale.engines.*", "eigscale.errors", "eigscale.grading",
          "eigscale.jsonio", "eigscale.lengths", "eigscale.params", "eigscale.records",
          "eigscale.scalers", "eigscale.scalers.base", "eigscale.lmeval",
          "eigscale.lmeval.eval_command", "eigscale.lmeval.gen_kwargs", "eigscale.lmeval.harness",
          "eigscale.lmeval.jobs", "eigscale.lmeval.mixin", "eigscale.lmeval.models",
          "eigscale.lmeval.run_folder", "eigscale.lmeval.tasks.*")
# each scaler's own modules, beyond the shared ones: as its class declares them
SCALER_MODULES = {name: cls.modules for name, cls in SCALERS.items()}
# what a replay sweep runs through besides
REPLAY = ("eigscale.scalers.replay", "eigscale.scalers.cuts", "eigscale.lmeval.sweep_command")
# what the oracle grid runs through besides (its trace is budget_forcing's)
ORACLE = (*REPLAY, "eigscale.scalers.cut_grid", "eigscale.lmeval.oracle_command")
# modules that compute no evaluation result (they read, plot or launch them)
NOT_IN_RESULTS = ("eigscale", "eigscale.cli", "eigscale.prepare",
                  "eigscale.compute", "eigscale.pipeline.*")
DATA_SUFFIXES = (".py", ".yaml")


def module_files(name: str) -> dict[str, Path]:
    """{module or resource name: file} of a module (a package: its __init__), or, for
    "<package>.*", of every module and data file under the package (resources named
    "<package>/<file>")."""
    whole = name.endswith(".*")
    name = name.removesuffix(".*")
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(name)
    origin = Path(spec.origin)
    if not whole:
        return {name: origin}
    root, out = origin.parent, {}
    for f in sorted(root.rglob("*")):
        if f.suffix not in DATA_SUFFIXES or "__pycache__" in f.parts:
            continue
        package = ".".join([name, *f.relative_to(root).parent.parts])
        if f.suffix != ".py":
            out[f"{package}/{f.name}"] = f
        else:
            out[package if f.stem == "__init__" else f"{package}.{f.stem}"] = f
    return out


def fingerprint(scaler: str, replay: bool = False, oracle: bool = False) -> str:
    """Hash of the package code a scaler's results depend on (replay: a replay sweep's;
    oracle: the oracle grid's): edit it and its runs rerun."""
    names = SHARED + SCALER_MODULES[scaler] + (ORACLE if oracle else REPLAY if replay else ())
    files: dict[str, Path] = {}
    for name in names:
        files.update(module_files(name))
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(name.encode() + b"\0")
        h.update(files[name].read_bytes())
    return h.hexdigest()[:16]
