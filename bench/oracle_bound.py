"""What the oracle's answer bound changes: the real oracle job (eigscale-oracle's run_oracle:
lm-eval, the real SmolLM2 on vLLM, the task's grader) of one config, unbounded and at each
bound, on the same trace; per bound, the cuts whose verdict c_i(t) differs from the unbounded
grid's, the answers the bound stopped, and the answer tokens the engine decoded.

    ./run bench oracle-bound [--config default|paper-shape] [--caps 8 16 ...] [--limit N]

`default` is config/config.yaml; `paper-shape` is config/paper.yaml at its own shape on the
tiny model (tests/paper_shape.py, as its test runs it: a 512-token context, the oracle's bound
scaled as every token length, 4096 -> 64). The config's own bound is always measured.
Results: results/bench/oracle_bound_<config>.json and .md. One vLLM engine for all bounds.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from eigscale.jsonio import write_json_atomic

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "results" / "bench"
MODEL = REPO / "resources" / "models" / "smollm2"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
CAPS = [8, 16, 32, 64, 128]


def load_config(name: str) -> dict[str, Any]:
    if name == "default":
        return yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    sys.path.insert(0, str(REPO / "tests"))
    from paper_shape import scaled_down

    return scaled_down(yaml.safe_load((REPO / "config" / "paper.yaml").read_text()))


def grids(config: dict[str, Any], caps: list[int | None]) -> dict[int | None, list[dict]]:
    """The first (model, task)'s oracle grid at each bound, one loaded model for all."""
    from eigscale.lmeval.harness import load_lm
    from eigscale.lmeval.oracle_command import run_oracle
    from eigscale.pipeline.job import oracle_spec
    from eigscale.pipeline.run_config import oracle_of, runs

    model, task = next(iter(config["models"])), next(iter(config["tasks"]))
    settings = oracle_of(config, runs(config), model, task)
    out: dict[int | None, list[dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        spec = oracle_spec(settings, MODEL, Path(tmp, "work"))
        lm = None
        for cap in caps:
            where = Path(tmp, f"cap_{cap}")
            one = {**spec, "answer_cap": cap, "records": str(where / "records"),
                   "output": str(where / "out")}
            (where / "out").mkdir(parents=True)
            if lm is None:  # one engine for every bound
                lm = load_lm(one, Path(one["records"]))
            t0 = time.perf_counter()
            out[cap] = run_oracle(one, lm)
            print(f"[oracle-bound] cap {cap}: {len(out[cap])} cuts, "
                  f"{time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    return out


def compare(grid: dict[int | None, list[dict]], own: int) -> list[dict[str, Any]]:
    """Per bound: cuts, verdicts changed against the unbounded grid, answers capped, decoded
    answer tokens."""
    free = {(r["doc_id"], r["t"]): r for r in grid[None]}
    rows = []
    for cap, cuts in grid.items():
        rows.append({
            "cap": cap, "own": cap == own, "cuts": len(cuts),
            "verdicts_changed": sum(r["correct"] != free[r["doc_id"], r["t"]]["correct"]
                                    for r in cuts),
            "answers_changed": sum(r["answer"] != free[r["doc_id"], r["t"]]["answer"]
                                   for r in cuts),
            "capped": sum(bool(r.get("answer_capped")) for r in cuts),
            "answer_tokens": sum(int(r["answer_tokens"]) for r in cuts),
            "correct": sum(int(r["correct"]) for r in cuts)})
    return rows


def table(name: str, rows: list[dict[str, Any]]) -> str:
    lines = [f"Oracle answer bound, {name} config: the same trace's grid at each bound against "
             "the unbounded grid", "",
             "| bound (answer tokens) | cuts | verdicts changed | extracted answers changed | "
             "answers capped | answer tokens decoded | correct cuts |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        cap = "none" if r["cap"] is None else f"{r['cap']}{' (the config)' if r['own'] else ''}"
        lines.append(f"| {cap} | {r['cuts']} | {r['verdicts_changed']} | "
                     f"{r['answers_changed']} | {r['capped']} | {r['answer_tokens']} | "
                     f"{r['correct']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", choices=("default", "paper-shape"), default="default")
    ap.add_argument("--caps", nargs="*", type=int, default=CAPS)
    ap.add_argument("--limit", type=int, help="questions of the task (default: the config's)")
    args = ap.parse_args(argv)
    from eigscale.pipeline.run_config import analysis_settings
    from eigscale.prepare import SMOLLM2, prepare_model

    prepare_model(SMOLLM2, MODEL)
    config = load_config(args.config)
    if args.limit:
        for task in config["tasks"].values():
            task["limit"] = args.limit
    own = int(analysis_settings(config)["oracle_answer_tokens"])
    caps: list[int | None] = [None, *sorted({*args.caps, own})]
    rows = compare(grids(config, caps), own)
    OUT.mkdir(parents=True, exist_ok=True)
    name = args.config + (f"_{args.limit}q" if args.limit else "")
    write_json_atomic(OUT / f"oracle_bound_{name}.json", {"rows": rows})
    text = table(name, rows)
    (OUT / f"oracle_bound_{name}.md").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
