"""The package's layers, read from its source: the pure core, the scalers and the engines never
import lm-eval, Snakemake, pandas or matplotlib (nor eigscale's own glue packages); only
`eigscale.lmeval` imports lm-eval; nothing imports a private name of another module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "eigscale"
CORE_FORBIDDEN = ("lm_eval", "snakemake", "pandas", "matplotlib", "eigscale.lmeval",
                  "eigscale.pipeline")


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, names) of every import in the file, function-level imports included."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(a.name, []) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.module, [a.name for a in node.names]))
    return out


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
CORE = [m for m in MODULES if not m.startswith(("eigscale.lmeval", "eigscale.pipeline"))
        and m not in ("eigscale.cli", "eigscale.prepare")]


def under(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def test_the_layers_are_where_the_readme_says():
    assert {"eigscale.eig", "eigscale.params", "eigscale.records", "eigscale.grading",
            "eigscale.scalers.replay", "eigscale.engines.vllm"} <= set(CORE)
    assert {"eigscale.lmeval.mixin", "eigscale.lmeval.models", "eigscale.lmeval.evaluate",
            "eigscale.lmeval.sweep", "eigscale.lmeval.tasks"} <= set(MODULES)
    assert {"eigscale.pipeline.settings", "eigscale.pipeline.job", "eigscale.pipeline.metrics",
            "eigscale.pipeline.figures"} <= set(MODULES)


@pytest.mark.parametrize("module", CORE)
def test_core_scalers_and_engines_import_no_glue(module):
    bad = [m for m, _ in imports(MODULES[module])
           if any(under(m, f) for f in CORE_FORBIDDEN)]
    assert not bad, f"{module} imports {bad}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_only_the_lmeval_package_imports_lm_eval(module):
    uses = [m for m, _ in imports(MODULES[module]) if under(m, "lm_eval")]
    assert not uses or under(module, "eigscale.lmeval"), f"{module} imports {uses}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_private_name_crosses_a_module(module):
    private = [(m, n) for m, names in imports(MODULES[module]) if m.startswith("eigscale")
               for n in names if n.startswith("_")]
    assert not private, f"{module} imports private names {private}"


def test_the_checker_sees_a_violation(tmp_path):
    # the rules above read real imports: a function-level lm-eval import is found
    f = tmp_path / "x.py"
    f.write_text("def f():\n    from lm_eval.api import model\n    import pandas as pd\n")
    found = [m for m, _ in imports(f)]
    assert found == ["lm_eval.api", "pandas"]
