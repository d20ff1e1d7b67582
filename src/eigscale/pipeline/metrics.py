"""Tidy tables from a workflow's run folders: one row per run, one row per question."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from eigscale.compute import ModelShape, question_cost
from eigscale.scalers import SCALERS

KNOBS = tuple(dict.fromkeys(c.replay_vary for c in SCALERS.values() if c.replay_vary))


def _candidate_rates(counts: Mapping[str, int]) -> dict[str, float]:
    total = sum(counts.values())
    return {f"candidates_{k}_rate": counts.get(k, 0) / total if total else float("nan")
            for k in ("unparsed", "truncated")}


def _run_row(results: dict[str, Any], summary: dict[str, Any], run: Mapping[str, Any],
             ids: dict[str, str]) -> dict[str, Any]:
    m = results["results"][ids["task"]]
    tok = summary.get("tokens", {})
    thinking = list(summary.get("thinking_tokens_per_question", {}).values())
    params = summary.get("params", {})
    return {
        **ids,
        "scaler": run["scaler"], "sweep": run.get("sweep"), "vary": run.get("vary"),
        "value": run.get("value"),
        # its seed (None: the generation seed), and what the analysis pools its seeds into
        "seed": run.get("seed"), "pooled": run.get("pooled") or ids["run"],
        "group": run.get("group") or run.get("sweep"),
        "accuracy": m.get("exact_match,none"),
        "accuracy_stderr": m.get("exact_match_stderr,none"),
        "unparsed": m.get("unparsed,none"),
        "questions": summary.get("questions"),  # traces: questions x samples
        "samples": summary.get("samples", 1),
        "thinking_mean": float(pd.Series(thinking).mean()) if thinking else 0.0,
        "thinking_median": float(pd.Series(thinking).median()) if thinking else 0.0,
        "thinking_tokens": tok.get("thinking", 0),
        "candidate_tokens": tok.get("candidate", 0),
        "mc_tokens": tok.get("mc", 0),
        "probe_tokens": tok.get("probe", 0),
        "probe_prompt_tokens": tok.get("probe_prompt", 0),
        "score_prompt_tokens": tok.get("score_prompt", 0),
        "score_cached_tokens": tok.get("score_cached", 0),
        "answer_tokens": tok.get("answer", 0),
        # a replayed run has no time of its own: its sweep's replay job has one for all runs
        "wall_seconds": (float("nan") if summary.get("replay")
                         else summary.get("seconds", {}).get("total")),
        "sweep_wall_seconds": (summary.get("replay") or {}).get("seconds"),
        "replayed": bool(summary.get("replay")),
        "decisions": summary.get("decisions", 0),
        "continue_rate": summary.get("continue_rate"),
        "failures": sum((summary.get("failures") or {}).values()),
        "failed_questions": summary.get("failed_questions", 0),
        # the candidate answers the posterior rules drew: the shares the grader could not
        # read, and that max_answer_tokens cut (both left out of the classes)
        **_candidate_rates(summary.get("candidates") or {}),
        "unestimated_decisions": summary.get("unestimated_decisions", 0),
        "low_coverage_decisions": summary.get("low_coverage_decisions", 0),
        # every rule's swept knob (its replay parameter, from the registry): empty where the
        # run's rule has no such parameter
        **{knob: params.get(knob) for knob in KNOBS},
    }


def extract(results_files: Sequence[str], runs: Mapping[str, Mapping[str, Any]],
            model_configs: Mapping[str, Mapping[str, Any]] | None = None
            ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read results.json / samples.jsonl / decisions.jsonl of every run folder
    (results/runs/{model}/{task}/{run}/). model_configs ({model: its config.json}) give the
    FLOP estimate (eigscale.compute); without them it is NaN."""
    shapes = {m: ModelShape.from_config(c) for m, c in (model_configs or {}).items()}
    run_rows, q_rows = [], []
    for path in map(Path, results_files):
        folder = path.parent
        ids = {"model": folder.parent.parent.name, "task": folder.parent.name,
               "run": folder.name}
        results = json.loads(path.read_text())
        summary = results.get("eigscale", {}).get(ids["task"], {})
        row = _run_row(results, summary, runs[ids["run"]], ids)
        run_rows.append(row)
        costs = []
        graded = {}
        for line in (folder / "samples.jsonl").read_text().splitlines():
            s = json.loads(line)  # the grader's verdict on each of the question's traces
            for j, verdict in enumerate(zip(s.get("sample_correct", [s.get("exact_match")]),
                                            s.get("sample_unparsed", [s.get("unparsed")]),
                                            strict=True)):
                graded[s["doc_id"], j] = verdict
        for line in (folder / "decisions.jsonl").read_text().splitlines():
            d = json.loads(line)
            sample = int(d.get("sample", 0))
            correct, unparsed = graded.get((d["doc_id"], sample), (None, None))
            eigs = [x["eig"] for x in d["decisions"] if x.get("eig") is not None]
            cost = question_cost(d, shapes.get(ids["model"]))
            costs.append(cost)
            q_rows.append({
                **{f"{k}_tokens" if k != "flops" else k: v for k, v in cost.items()},
                **ids, "doc_id": d["doc_id"], "sample": sample, "correct": correct,
                "unparsed": unparsed,
                "thinking_tokens": d["thinking_tokens"], "answer_tokens": d["answer_tokens"],
                "stop_reason": d["stop_reason"], "extensions": d["extensions"],
                "decisions": len(d["decisions"]), "failure": d.get("failure"),
                "candidate_tokens": d["tokens"].get("candidate", 0),
                "mc_tokens": d["tokens"].get("mc", 0),
                "probe_tokens": d["tokens"].get("probe", 0),
                "eig_first": eigs[0] if eigs else None, "eig_last": eigs[-1] if eigs else None,
                "trajectory": json.dumps([[x["thinking_tokens"], x["entropy"], x["eig"]]
                                          for x in d["decisions"] if x.get("eig") is not None]),
            })
        total = pd.DataFrame(costs) if costs else pd.DataFrame(columns=["generated"])
        n = max(1, len(costs))
        row.update({"generated_tokens": float(total["generated"].sum()),
                    "prefill_tokens_uncached": float(total.get("prefilled", pd.Series()).sum()),
                    "processed_mean": float(total.get("processed", pd.Series()).sum()) / n,
                    "flops_mean": float(total.get("flops", pd.Series()).sum(min_count=1)) / n})
    runs_df = pd.DataFrame(run_rows).sort_values(["model", "task", "run"])
    q_df = pd.DataFrame(q_rows)
    if not q_df.empty:
        q_df = q_df.sort_values(["model", "task", "run", "doc_id", "sample"])
    return runs_df, q_df
