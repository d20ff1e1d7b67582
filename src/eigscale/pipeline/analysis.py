"""The analysis tables: oracle points and frontiers, every run's operating point with paired
intervals, regret and headroom, and every run against budget forcing's curve and the
random-stop control's, interpolated at equal compute.

Inputs are the tidy tables (eigscale.pipeline.metrics: questions.csv) and the oracle grids
(eigscale.lmeval.oracle_command: grid.csv per (model, task)). Per (model, task) one set of bootstrap
resamples over its questions serves every run (paired; eigscale.pipeline.stats); the oracle
quantities (eigscale.pipeline.frontier) are recomputed inside each resample.

Total compute per question is the FLOP estimate when the model's shape is known, else tokens
processed (eigscale.compute); the oracle's and a fixed cap's compute at a cut is charged the
same way: the prompt, the thinking to the cut and that cut's forced answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from eigscale.compute import ModelShape, question_cost
from eigscale.pipeline.frontier import (
    Grid,
    Resampled,
    fixed_budget,
    oracle_choice,
    oracle_frontier,
    points,
    standing,
)
from eigscale.pipeline.outputs import ANALYSIS
from eigscale.pipeline.run_config import ANALYSIS_DEFAULTS, analysis_settings
from eigscale.pipeline.stats import (
    bootstrap_p,
    holm,
    interval,
    mean_interval,
    resample_weights,
)

BF, RANDOM, NONE = "budget_forcing", "random_stop", "none"


@dataclass(frozen=True)
class Settings:
    """The `analysis` config section (config/README.md)."""

    bootstrap: int = ANALYSIS_DEFAULTS["bootstrap"]  # resamples
    confidence: float = ANALYSIS_DEFAULTS["confidence"]  # of every interval
    seed: int = ANALYSIS_DEFAULTS["seed"]  # of the resamples

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        section = analysis_settings(config)
        return cls(section["bootstrap"], section["confidence"], section["seed"])


def compute_column(questions: pd.DataFrame) -> str:
    """The total-compute column: FLOPs if estimated for every row, else tokens processed."""
    flops = questions.get("flops")
    return "flops" if flops is not None and flops.notna().all() and len(flops) else \
        "processed_tokens"


def _cell_costs(grid_rows: pd.DataFrame, shape: ModelShape | None) -> pd.DataFrame:
    """Each grid cut's compute: the prompt, the thinking to the cut, its forced answer."""
    costs = [question_cost({"prompt_tokens": r.prompt_tokens, "thinking_tokens": r.t,
                            "answer_tokens": r.answer_tokens}, shape)
             for r in grid_rows.itertuples()]
    out = grid_rows[["doc_id", "t"]].copy()
    out["processed_tokens"] = [c["processed"] for c in costs]
    out["flops"] = [c["flops"] for c in costs]
    return out


def _compute_at(cells: pd.DataFrame, grid: Grid, stops: np.ndarray, column: str) -> float:
    """Mean compute per question when question i stops at stops[i] (a grid point)."""
    lookup = cells.set_index(["doc_id", "t"])[column]
    at = [min(s, e) for s, e in zip(stops, grid.ends, strict=True)]
    return float(np.mean([lookup[(d, int(t))] if (d, int(t)) in lookup.index
                          else lookup.loc[d].iloc[-1]
                          for d, t in zip(grid.doc_ids, at, strict=True)]))


def frontiers(grid: Grid, cells: pd.DataFrame, column: str) -> pd.DataFrame:
    """F, A*_SC and A*_FC at every budget B of the grid: accuracy, `thinking` (the x of the
    curve: F's mean thinking tokens, mean min(B, T_i); the oracle's mean budget B, at which
    regret compares), `spent` (the mean thinking tokens actually spent) and the mean total
    compute of the stops they imply."""
    rows = []
    tokens, acc = fixed_budget(grid)
    for b, x, y in zip(grid.cuts, tokens, acc, strict=True):
        stops = np.minimum(b, grid.ends)
        rows.append({"curve": "fixed", "budget": b, "thinking": x, "spent": x, "accuracy": y,
                     "compute": _compute_at(cells, grid, stops, column)})
    for which in ("sc", "fc"):
        costs = grid.sc if which == "sc" else grid.fc
        for b, (x, y) in zip(grid.cuts, zip(*oracle_frontier(grid, which), strict=True),
                             strict=True):
            rows.append({"curve": f"oracle_{which}", "budget": b, "thinking": float(b),
                         "spent": x, "accuracy": y,
                         "compute": _compute_at(cells, grid, oracle_choice(costs, b), column)})
    return pd.DataFrame(rows)


def _per_question(q: pd.DataFrame, grid: Grid, run: str, column: str) -> dict[str, np.ndarray]:
    """A run's correctness, thinking tokens and compute, in the grid's question order."""
    q = q.set_index("doc_id")
    missing = sorted(set(grid.doc_ids) - set(q.index))
    extra = sorted(set(q.index) - set(grid.doc_ids))
    if missing or extra:
        raise ValueError(f"run {run}: its questions are not the oracle grid's (missing "
                         f"{missing[:5]}, extra {extra[:5]}); rerun the workflow")
    q = q.loc[grid.doc_ids]
    return {"correct": q["correct"].fillna(0).to_numpy(float),
            "thinking": q["thinking_tokens"].to_numpy(float),
            "answer": (q["answer_tokens"] if "answer_tokens" in q else
                       pd.Series(np.nan, index=q.index)).to_numpy(float),
            "compute": q[column].to_numpy(float)}


def operating_points(runs: pd.DataFrame, questions: pd.DataFrame, grid: Grid,
                     weights: np.ndarray, column: str, confidence: float) -> pd.DataFrame:
    """Every run of one (model, task) against the oracle, with paired intervals."""
    resampled = Resampled(grid, weights)
    rows = []
    for r in runs.itertuples():
        x = _per_question(questions[questions["run"] == r.run], grid, r.run, column)
        row = {"run": r.run, "scaler": r.scaler, "sweep": r.sweep, "value": r.value}
        for name, values in (("accuracy", x["correct"]), ("thinking", x["thinking"]),
                             ("answer", x["answer"]), ("compute", x["compute"])):
            row[name], row[f"{name}_lo"], row[f"{name}_hi"] = mean_interval(values, weights,
                                                                            confidence)
        point = standing(grid, x["correct"], x["thinking"])
        row.update({k: v for k, v in asdict(point).items()
                    if k in ("fixed", "oracle_sc", "oracle_fc")})
        for which, suffix in (("sc", ""), ("fc", "_fc")):
            spread = resampled.regret_headroom(x["correct"], x["thinking"], which)
            for name, values in zip(("regret", "headroom"), spread, strict=True):
                row[name + suffix] = getattr(point, name + suffix)
                row[f"{name}{suffix}_lo"], row[f"{name}{suffix}_hi"] = interval(values,
                                                                                confidence)
        rows.append(row)
    return pd.DataFrame(rows)


# the curves a run is matched against: reference scaler -> (the axis it is matched on, what it
# controls for). Fixed budgets at equal total compute (does the rule beat a cap, side tokens
# and all?); random stops on the rule's grid at equal thinking (does its *timing* beat chance
# with the same thinking budget? a random stop draws no side tokens, so total compute would
# compare the side tokens instead)
REFERENCES = {BF: ("compute", "the budget"), RANDOM: ("thinking", "the timing")}


def sorted_curves(xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Curves (one per row, [..., points]) with each row's points in the order of x."""
    xs, ys = np.atleast_2d(np.asarray(xs, float)), np.atleast_2d(np.asarray(ys, float))
    order = np.argsort(xs, axis=1, kind="stable")
    return np.take_along_axis(xs, order, axis=1), np.take_along_axis(ys, order, axis=1)


def interpolate_rows(xs: np.ndarray, ys: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Each row's piecewise-linear curve (`sorted_curves`) at its x, as np.interp reads a curve
    (NaN outside [min x, max x] or for a NaN x)."""
    x = np.asarray(x, float)
    out = np.full(x.shape, np.nan)
    if xs.shape[1] == 0:
        return out
    inside = (x >= xs[:, 0]) & (x <= xs[:, -1])
    if xs.shape[1] == 1:
        return np.where(inside, ys[:, 0], out)
    # the segment [x_i, x_i+1) holding x (the last point itself at the end)
    i = np.clip((xs <= x[:, None]).sum(axis=1) - 1, 0, xs.shape[1] - 2)
    rows = np.arange(len(x))
    x0, x1, y0, y1 = xs[rows, i], xs[rows, i + 1], ys[rows, i], ys[rows, i + 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        along = np.where(x >= x1, y1, y0 + (x - x0) * (y1 - y0) / (x1 - x0))
    return np.where(inside, along, out)


def reach_rows(xs: np.ndarray, ys: np.ndarray, y: np.ndarray) -> np.ndarray:
    """For each row's curve (`sorted_curves`), the least x at which it, walked in x, first
    reaches its y (NaN if it never does)."""
    y = np.asarray(y, float)
    out = np.full(y.shape, np.nan)
    if xs.shape[1] == 0:
        return out
    hit = ys >= y[:, None]
    k = hit.argmax(axis=1)  # the first point at or above y
    rows = np.arange(len(y))
    prev = np.maximum(k - 1, 0)
    x0, x1, y0, y1 = xs[rows, prev], xs[rows, k], ys[rows, prev], ys[rows, k]
    with np.errstate(divide="ignore", invalid="ignore"):
        crossing = np.where(k == 0, x1, x0 + (x1 - x0) * (y - y0) / (y1 - y0))
    return np.where(hit.any(axis=1), crossing, out)


def interpolate(xs: np.ndarray, ys: np.ndarray, x: float) -> float:
    """The piecewise-linear curve through (xs, ys) at x (NaN outside [min xs, max xs])."""
    return float(interpolate_rows(*sorted_curves(xs, ys), np.array([x]))[0])


def reach(xs: np.ndarray, ys: np.ndarray, y: float) -> float:
    """The least x at which the piecewise-linear curve through (xs, ys), walked in x, first
    reaches y (NaN if it never does)."""
    return float(reach_rows(*sorted_curves(xs, ys), np.array([y]))[0])


def matched(ops: pd.DataFrame, questions: pd.DataFrame, grid: Grid, weights: np.ndarray,
            column: str, confidence: float) -> pd.DataFrame:
    """Every run against each reference curve (REFERENCES: budget forcing's caps at equal total
    compute; the random-stop control at equal thinking, for the adaptive rules), the curve
    interpolated at the run's own mean on that axis, inside every bootstrap resample: the
    accuracy gained there (run minus curve) and what the run saves at equal accuracy (the
    curve's axis value where it first reaches the run's accuracy, minus the run's), each with
    its percentile interval and bootstrap p. A run outside the curve's range on the axis is
    reported as outside, never as matched."""
    rows: list[dict[str, Any]] = []
    if ops.empty:
        return pd.DataFrame(rows)
    rules = ops.assign(rule=ops["sweep"].fillna(ops["run"]))
    norm = weights.sum(axis=1)
    resampled = {}
    for r in rules.itertuples():
        x = _per_question(questions[questions["run"] == r.run], grid, r.run, column)
        resampled[r.run] = {k: weights @ x[k] / norm for k in ("correct", "compute", "thinking")}
    for ref, (axis, controls) in REFERENCES.items():
        curve = rules[rules["scaler"] == ref]
        if len(curve) < 2:
            continue  # a curve needs two points
        # each resample's curve, in the order of its x once for every run matched against it
        x_ref, a_ref = sorted_curves(np.stack([resampled[c][axis] for c in curve["run"]], 1),
                                     np.stack([resampled[c]["correct"] for c in curve["run"]], 1))
        xs, ys = curve[axis].to_numpy(), curve["accuracy"].to_numpy()
        lo_x, hi_x = float(xs.min()), float(xs.max())
        others = rules[~rules["scaler"].isin([ref, *([BF, RANDOM, NONE] if ref == RANDOM
                                                     else [])])]
        for r in others.itertuples():
            a_run, x_run, x = resampled[r.run]["correct"], resampled[r.run][axis], getattr(r, axis)
            at, need = interpolate(xs, ys, x), reach(xs, ys, r.accuracy)
            inside = lo_x <= x <= hi_x
            gain = a_run - interpolate_rows(x_ref, a_ref, x_run)
            saved = reach_rows(x_ref, a_ref, a_run) - x_run
            none = (float("nan"),) * 2
            rows.append({
                "reference": ref, "axis": axis, "controls": controls, "rule": r.rule,
                "run": r.run, "scaler": r.scaler, "x": x, "accuracy": r.accuracy,
                "position": ("inside" if inside else "below the curve's range" if x < lo_x
                             else "above the curve's range"),
                "reference_x_lo": lo_x, "reference_x_hi": hi_x, "reference_accuracy": at,
                "gain": r.accuracy - at if inside else float("nan"),
                **dict(zip(("gain_lo", "gain_hi"), interval(gain, confidence) if inside
                           else none, strict=True)),
                "p_gain": bootstrap_p(gain) if inside else float("nan"),
                "reference_x_needed": need, "saved": need - x,
                # a curve that never reaches the run's accuracy saves nothing to bound
                **dict(zip(("saved_lo", "saved_hi"), none if np.isnan(need)
                           else interval(saved, confidence), strict=True)),
            })
    return pd.DataFrame(rows)


def analyse(runs: pd.DataFrame, questions: pd.DataFrame, grids: pd.DataFrame,
            settings: Settings, shapes: Mapping[str, ModelShape] | None = None
            ) -> dict[str, pd.DataFrame]:
    """{points, frontiers, operating_points, matched} over every (model, task) of the grids
    (grid rows carry model and task columns). The matched comparisons' p-values are also
    Holm-adjusted over every comparison of the model (all its tasks, references and runs):
    one family per model's table."""
    column = compute_column(questions)
    out: dict[str, list[pd.DataFrame]] = {k: [] for k in ANALYSIS}
    for (model, task), rows in grids.groupby(["model", "task"], sort=True):
        ids = {"model": model, "task": task}
        grid = Grid.from_frame(rows)
        cells = _cell_costs(rows, (shapes or {}).get(model))
        weights = resample_weights(len(grid.doc_ids), settings.bootstrap, settings.seed)
        mine = (runs["model"] == model) & (runs["task"] == task)
        q = questions[(questions["model"] == model) & (questions["task"] == task)]
        ops = operating_points(runs[mine], q, grid, weights, column, settings.confidence)
        parts = {"points": points(grid), "frontiers": frontiers(grid, cells, column),
                 "operating_points": ops,
                 "matched": matched(ops, q, grid, weights, column, settings.confidence)}
        for name, df in parts.items():
            out[name].append(df.assign(**ids, compute_unit=column)[
                ["model", "task", *[c for c in df.columns], "compute_unit"]])
    tables = {k: pd.concat(v, ignore_index=True) if v else pd.DataFrame()
              for k, v in out.items()}
    m = tables["matched"]
    if not m.empty:
        m["p_holm"] = m.groupby("model")["p_gain"].transform(
            lambda p: pd.Series(holm(p.tolist()), index=p.index))
    return tables
