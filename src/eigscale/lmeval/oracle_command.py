"""`eigscale-oracle SPEC.json`: the oracle grid of one task, graded by the task's own grader.

One lm-eval evaluation of a budget_forcing run (the trace: greedy, no extensions, its cap the
grid's last point) in oracle mode (ScalingMixin.setup_oracle): every question's trace is cut at
0, step, 2 step, ... and at its end, the answer is forced at every cut in one batched call
(eigscale.scalers.cut_grid), and each cut's answer is graded by the task's `process_results`,
the function lm-eval grades the run with. lm-eval itself grades the trace ends' answers; the
grid must agree with it there, or this fails.

Writes `<output>/grid.csv`, one row per (question, cut): task, doc_id, t (thinking tokens before
the cut), end (the trace's thinking length), correct (0/1), answer (what the grader read, empty
when nothing gradable), stop_reason, prompt_tokens, answer_tokens, prefill_tokens and
decoded_tokens (what a live budget_forcing run capped at the cut is charged, from the engine's
counts: eigscale.scalers.cut_grid.Cut), answer_capped (where the oracle's answer bound stopped
the answer, `analysis.oracle_answer_tokens`); and lm-eval's own files of the trace-end
evaluation under `<output>/lm_eval/`.

SPEC (JSON): as eigscale-sweep's (model, model_args, task, limit, apply_chat_template, seed,
records, output), with `gen_kwargs` (the trace's budget_forcing run) for `runs`, `step` and
`answer_cap` (the forced answers' bound, null for none).
"""

from __future__ import annotations

import csv
import os
import sys
from pathlib import Path
from typing import Any

from eigscale.errors import ParamError
from eigscale.grading import Response, answer_class
from eigscale.jsonio import read_jsonl
from eigscale.lmeval.gen_kwargs import check_gen_kwargs
from eigscale.lmeval.harness import evaluate_task, load_lm, spec_main
from eigscale.lmeval.mixin import scaling_args
from eigscale.lmeval.run_folder import GRID_CSV, GRID_LM_EVAL, RecordsFolder
from eigscale.lmeval.tasks import ANSWER_KIND, TASKS_DIR

GRID_COLUMNS = ("task", "doc_id", "sample", "t", "end", "correct", "answer", "stop_reason",
                "prompt_tokens", "answer_tokens", "prefill_tokens", "decoded_tokens",
                "answer_capped")
PRIMARY_METRIC = "exact_match"  # what every eigscale task reports, and metrics.py reads


def grade_rows(rows: list[dict[str, Any]], docs: dict[int, dict], process_results: Any,
               params: Any, kind: str) -> list[dict[str, Any]]:
    """Grade each grid row's answer with `process_results(doc, [response])` (a task's grader);
    identical answers of one question are graded once. params: the trace's scaler parameters
    (where its thinking ends, its answer prompt)."""
    seen: dict[tuple[int, str], tuple[int, str]] = {}
    out = []
    for row in rows:
        key = (row["doc_id"], row["text"])
        if key not in seen:
            response = Response.of_run(row["text"], params)
            correct = int(process_results(docs[row["doc_id"]], [response])[PRIMARY_METRIC])
            seen[key] = (correct, answer_class(response, kind) or "")
        correct, answer = seen[key]
        out.append({**{k: row[k] for k in GRID_COLUMNS if k in row}, "correct": correct,
                    "answer": answer})
    return out


def write_grid(path: Path, rows: list[dict[str, Any]]) -> None:
    """grid.csv, sorted by question, sample and cut, written atomically."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=GRID_COLUMNS)
        writer.writeheader()
        writer.writerows(sorted(rows, key=lambda r: (r["doc_id"], r.get("sample", 0), r["t"])))
    os.replace(tmp, path)


def run_oracle(spec: dict[str, Any], lm: Any = None) -> list[dict[str, Any]]:
    """The spec's grid, graded, written to <output>/grid.csv and returned. `lm`: a loaded
    model of the spec's to reuse (its records folder is set to the spec's), else one is
    loaded."""
    from lm_eval.tasks import TaskManager

    from eigscale.lmeval.gen_kwargs import scaler_from_gen_kwargs

    task, records, output = spec["task"], Path(spec["records"]), Path(spec["output"])
    params = scaler_from_gen_kwargs(spec["gen_kwargs"]).scaler.params
    if lm is None:
        lm = load_lm(spec, records)
    else:
        lm.setup_scaling(str(records), **scaling_args(spec["model_args"]))
    lm.setup_oracle(int(spec["step"]), spec.get("answer_cap"))
    results = evaluate_task(lm, spec, spec["gen_kwargs"], output / GRID_LM_EVAL)
    samples = results["samples"][task]
    docs = {s["doc_id"]: s["doc"] for s in samples}
    grader = TaskManager(include_path=str(TASKS_DIR)).load([task])["tasks"][task]
    rows = [r for r in read_jsonl(RecordsFolder(records).grid(task)) if r["doc_id"] in docs]
    graded = grade_rows(rows, docs, grader.process_results, params, ANSWER_KIND[task])
    ends: dict[int, list[int]] = {}  # each question's traces' ends, in sample order
    for r in sorted(graded, key=lambda r: r.get("sample", 0)):
        if r["t"] == r["end"]:
            ends.setdefault(r["doc_id"], []).append(r["correct"])
    for s in samples:  # the same grader on the same answers: a disagreement is a bug here
        if ends.get(s["doc_id"]) != s["sample_correct"]:
            raise RuntimeError(f"oracle grid: doc {s['doc_id']} graded {ends.get(s['doc_id'])}"
                               f" at its traces' ends, lm-eval graded {s['sample_correct']}")
    write_grid(output / GRID_CSV, graded)
    return graded


def _oracle(path: Path, spec: dict[str, Any]) -> None:
    check_gen_kwargs(spec["gen_kwargs"], f"oracle trace in {path}")
    if spec["gen_kwargs"].get("scale_func_name") != "budget_forcing":
        raise ParamError(f"{path}: the oracle's trace is a budget_forcing run",
                         param="scale_func_name",
                         value=spec["gen_kwargs"].get("scale_func_name"), source=str(path))
    rows = run_oracle(spec)
    print(f"eigscale-oracle: {len(rows)} cuts of {len({r['doc_id'] for r in rows})} questions "
          f"graded, {sum(r['correct'] for r in rows)} correct", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    return spec_main(argv, __doc__ or "", "eigscale-oracle", _oracle)


if __name__ == "__main__":
    sys.exit(main())
