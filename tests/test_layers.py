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
    assert {"eigscale.lmeval.mixin", "eigscale.lmeval.models", "eigscale.lmeval.eval_command",
            "eigscale.lmeval.sweep_command", "eigscale.lmeval.tasks"} <= set(MODULES)
    assert {"eigscale.pipeline.run_config", "eigscale.pipeline.job", "eigscale.pipeline.metrics",
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


def code_strings(path: Path) -> list[str]:
    """The string literals of a file's code (f-strings' literal parts included), docstrings
    left out."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = {id(n.body[0].value) for n in ast.walk(tree)
            if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and n.body and isinstance(n.body[0], ast.Expr)
            and isinstance(n.body[0].value, ast.Constant)}
    return [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)
            and isinstance(n.value, str) and id(n) not in docs]


def test_the_run_folders_file_names_are_spelled_in_one_module():
    import re

    pattern = re.compile(r"^(decisions|chunks|summary|grid|results|samples)_$|_\*\.json|grid\.csv")
    spelled = {m for m, p in MODULES.items() if any(pattern.search(s) for s in code_strings(p))}
    assert spelled == {"eigscale.lmeval.run_folder"}


def test_the_commands_stand_side_by_side():
    commands = [m for m in MODULES if m.startswith("eigscale.lmeval.") and
                m.endswith("_command")]
    assert len(commands) == 3
    for module in commands:
        others = [m for m, _ in imports(MODULES[module]) if m in commands]
        assert not others, f"{module} imports the command {others}"


def test_no_two_modules_share_a_name():
    # "oracle" once named three modules: a name says what one module computes ("base", each
    # package's contract, aside)
    names = [m.rsplit(".", 1)[-1] for m in MODULES if m.count(".") > 1 or m != "eigscale"]
    shared = {n for n in names if names.count(n) > 1} - {"base", "__init__"}
    assert not shared, shared
