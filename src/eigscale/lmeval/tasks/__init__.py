"""lm-eval tasks shipped with eigscale (pass this folder to lm-eval's --include_path;
`eigscale-eval` does so by itself). A task is its YAML file here: `ANSWER_KIND` is read from
them."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

TASKS_DIR = Path(__file__).resolve().parent


def _answer_kinds() -> dict[str, str]:
    """{task: its answer equivalence} from the YAML files here (`metadata.answer_kind`, or the
    file's it `include`s)."""
    raw = {p.name: yaml.safe_load(re.sub(r"!function \S+", "null", p.read_text()))
           for p in sorted(TASKS_DIR.glob("*.yaml"))}

    def kind(name: str) -> str:
        spec = raw[name]
        if "answer_kind" in (spec.get("metadata") or {}):
            return spec["metadata"]["answer_kind"]
        if "include" in spec:
            return kind(spec["include"])
        raise ValueError(f"{TASKS_DIR / name}: no metadata.answer_kind (the answer equivalence "
                         "its grader uses: integer, math, choice or text)")

    return {spec["task"]: kind(name) for name, spec in raw.items()}


# each task's answer equivalence (eigscale.grading.answer_class): what its grader calls equal,
# and so what EIG's entropy is over
ANSWER_KIND = _answer_kinds()
