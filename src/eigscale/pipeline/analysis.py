"""The analysis tables: oracle points and frontiers, every run's operating point with paired
intervals, regret and headroom on both axes, every run against budget forcing's curve and the
random-stop curve, interpolated at equal compute, and every adaptive run against random
timing with its own stop times, question by question.

Inputs are the tidy tables (eigscale.pipeline.metrics: questions.csv) and the oracle grids
(eigscale.lmeval.oracle_command: grid.csv per (model, task)). Per (model, task) one set of
bootstrap resamples over its questions serves every run (paired; eigscale.pipeline.stats); the
oracle quantities (eigscale.pipeline.frontier) are recomputed inside each resample.

With k sampled traces per question (a model that samples, tasks.<t>.samples), the unit of
every per-question quantity is a trace: the grid is computed per trace and each run answers
the same (question, sample) traces; a mean over traces is pass@1 (each question's mean over
its k traces, averaged). The resamples draw questions, each with all its k traces (a cluster
bootstrap: the spread of the per-question means carries the sampling's variance as well as
the questions'), and every paired difference is taken trace by trace inside them; McNemar's
test, which needs independent pairs, is left out (the bootstrap p is the paired test).

Total compute per question is the FLOP estimate when the model's shape is known, else tokens
processed (eigscale.compute), from the engine's own counts; a grid cut is charged as a fixed
cap at the cut would be (`cut_costs`). Regret and headroom are read at equal total compute
(the primary view) and at equal thinking tokens (the secondary one).

Multiplicity: the comparisons of the matched table are one family per model (every task,
reference and run); Bonferroni's p and the interval at the matching level are given beside
the raw ones, and each interval excludes 0 exactly when its p is below 1 - confidence.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from eigscale.compute import ModelShape, question_cost
from eigscale.pipeline.curves import (
    interpolate,
    interpolate_rows,
    reach,
    reach_rows,
    sorted_curves,
)
from eigscale.pipeline.frontier import (
    Axis,
    Grid,
    Resampled,
    as_traces,
    fixed_budget,
    oracle_frontier,
    points,
    samples_of,
    standing,
)
from eigscale.pipeline.outputs import ANALYSIS
from eigscale.pipeline.run_config import ANALYSIS_DEFAULTS, analysis_settings
from eigscale.pipeline.stats import (
    bootstrap_p,
    interval,
    mcnemar,
    mean_interval,
    resample_weights,
)
from eigscale.scalers import SCALERS
from eigscale.scalers.random_stop import permuted_stops

BF, RANDOM, NONE = "budget_forcing", "random_stop", "none"


@dataclass(frozen=True)
class Settings:
    """The `analysis` config section (config/README.md)."""

    bootstrap: int = ANALYSIS_DEFAULTS["bootstrap"]  # resamples
    confidence: float = ANALYSIS_DEFAULTS["confidence"]  # of every interval
    seed: int = ANALYSIS_DEFAULTS["seed"]  # of the resamples and the control's draws
    control_draws: int = ANALYSIS_DEFAULTS["control_draws"]  # of the timing control

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        section = analysis_settings(config)
        return cls(section["bootstrap"], section["confidence"], section["seed"],
                   section["control_draws"])


def compute_column(questions: pd.DataFrame) -> str:
    """The total-compute column: FLOPs if estimated for every row, else tokens processed."""
    flops = questions.get("flops")
    return "flops" if flops is not None and flops.notna().all() and len(flops) else \
        "processed_tokens"


def cut_costs(grid_rows: pd.DataFrame, shape: ModelShape | None) -> pd.DataFrame:
    """Each grid cut's total compute, as a live budget-forcing run capped at the cut is
    charged: the engine's counts of the trace's reasoning up to the cut and of the cut's
    forced answer (`prefill_tokens`, `decoded_tokens`: eigscale.scalers.cut_grid.Cut); grids
    from before those counts were kept: the prompt, the thinking and the answer's tokens."""
    counted = {"prefill_tokens", "decoded_tokens"} <= set(grid_rows.columns)
    costs = [question_cost({
        "prompt_tokens": r.prompt_tokens, "thinking_tokens": r.t, "answer_tokens": r.answer_tokens,
        **({"prefill": {"cut": r.prefill_tokens}, "decoded": {"cut": r.decoded_tokens}}
           if counted else {})}, shape) for r in grid_rows.itertuples()]
    return grid_rows.assign(processed_tokens=[c["processed"] for c in costs],
                            flops=[c["flops"] for c in costs])


def capped_cuts(grid_rows: pd.DataFrame, grid: Grid) -> np.ndarray:
    """Per question (in the grid's order), how many of its cuts' forced answers the oracle's
    answer bound stopped (0 for grids from before it was recorded)."""
    if "answer_capped" not in grid_rows:
        return np.zeros(len(grid.doc_ids), dtype=int)
    capped = grid_rows["answer_capped"].astype(str).str.lower().isin(["true", "1"])
    return capped.groupby(grid_rows["doc_id"]).sum().reindex(grid.doc_ids).to_numpy(int)


def axes(grid: Grid, grid_rows: pd.DataFrame, shape: ModelShape | None, column: str
         ) -> dict[str, Axis]:
    """The grid on the total-compute axis (primary) and the thinking axis."""
    return {"compute": Axis.of(grid, grid.cells(cut_costs(grid_rows, shape), column), column),
            "thinking": Axis.thinking(grid)}


def frontiers(axes: Mapping[str, Axis]) -> pd.DataFrame:
    """F, A*_SC and A*_FC on each axis: per cap B of the grid, F's mean cost x and accuracy;
    the oracles at the same mean budgets x, with the mean cost they actually spend."""
    rows = []
    for name, axis in axes.items():
        xs, acc = fixed_budget(axis)
        rows += [{"axis": name, "curve": "fixed", "x": x, "spent": x, "accuracy": y}
                 for x, y in zip(xs, acc, strict=True)]
        budgets = np.unique(xs)
        for which in ("sc", "fc"):
            spent, best = oracle_frontier(axis, which, budgets)
            rows += [{"axis": name, "curve": f"oracle_{which}", "x": b, "spent": s,
                      "accuracy": y} for b, s, y in zip(budgets, spent, best, strict=True)]
    return pd.DataFrame(rows)


def _per_question(q: pd.DataFrame, grid: Grid, run: str, column: str) -> dict[str, np.ndarray]:
    """A run's correctness, thinking tokens, answer tokens, compute and early stop point (inf
    where it did not stop early by its own rule), in the grid's question order."""
    q = q.set_index("doc_id")
    if q.index.duplicated().any():
        raise ValueError(f"run {run}: a question (or one of its sampled traces) is recorded "
                         f"twice ({sorted(set(q.index[q.index.duplicated()]))[:5]}); rerun the "
                         "workflow")
    missing = sorted(set(grid.doc_ids) - set(q.index))
    extra = sorted(set(q.index) - set(grid.doc_ids))
    if missing or extra:
        raise ValueError(f"run {run}: its questions are not the oracle grid's (missing "
                         f"{missing[:5]}, extra {extra[:5]}); rerun the workflow")
    q = q.loc[grid.doc_ids]
    thinking = q["thinking_tokens"].to_numpy(float)
    own = q["scaler"].map(lambda s: SCALERS[s].stop_reasons if s in SCALERS else ()) \
        if "scaler" in q else pd.Series([()] * len(q), index=q.index)
    early = np.array([r in reasons for r, reasons in
                      zip(q.get("stop_reason", pd.Series("", index=q.index)), own,
                          strict=True)], dtype=bool)
    return {"correct": q["correct"].fillna(0).to_numpy(float), "thinking": thinking,
            "answer": (q["answer_tokens"] if "answer_tokens" in q else
                       pd.Series(np.nan, index=q.index)).to_numpy(float),
            "compute": q[column].to_numpy(float),
            "early_stop": np.where(early, thinking, np.inf)}


def pooled_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per operating point: the runs that differ only in their seed (runs.csv's
    `pooled`; every run alone in tables from before seeds) as one, named by what they share,
    its sweep the sweep's own name, with `members` (their run names) and `seeds` (how many)."""
    runs = runs.assign(pooled=runs["pooled"] if "pooled" in runs else runs["run"],
                       group=runs["group"] if "group" in runs else runs["sweep"])
    rows = []
    for name, part in runs.groupby("pooled", sort=False):
        first = part.iloc[0]
        rows.append({"run": name, "scaler": first["scaler"], "sweep": first["group"],
                     "value": first["value"], "members": list(part["run"]),
                     "seeds": len(part)})
    return pd.DataFrame(rows)


def pooled_questions(members: list[dict[str, np.ndarray]]) -> dict[str, Any]:
    """An operating point's per-question values: each the mean over its seeds' runs (a
    question's accuracy is the share of its seeds that got it right); `members` kept."""
    out: dict[str, Any] = {k: np.mean([m[k] for m in members], axis=0)
                           for k in ("correct", "thinking", "answer", "compute")}
    out["members"] = members
    return out


# the operating points' oracle columns per axis: total compute unsuffixed (the primary view)
AXIS_SUFFIX = {"compute": "", "thinking": "_thinking"}


def operating_points(runs: pd.DataFrame, per_run: Mapping[str, dict[str, np.ndarray]],
                     axes: Mapping[str, Axis], weights: np.ndarray, confidence: float
                     ) -> pd.DataFrame:
    """Every run of one (model, task) against the oracle on each axis, with paired intervals."""
    resampled = {name: Resampled(axis, weights) for name, axis in axes.items()}
    rows = []
    for r in runs.itertuples():
        x = per_run[r.run]
        accuracies = [m["correct"].mean() for m in x["members"]]
        row = {"run": r.run, "scaler": r.scaler, "sweep": r.sweep, "value": r.value,
               "seeds": len(accuracies),
               # the spread across seeds: each seed's accuracy over all questions
               "accuracy_seed_sd": float(np.std(accuracies, ddof=1)) if len(accuracies) > 1
               else float("nan"),
               "accuracy_seed_min": float(min(accuracies)),
               "accuracy_seed_max": float(max(accuracies))}
        for name, values in (("accuracy", x["correct"]), ("thinking", x["thinking"]),
                             ("answer", x["answer"]), ("compute", x["compute"])):
            row[name], row[f"{name}_lo"], row[f"{name}_hi"] = mean_interval(values, weights,
                                                                            confidence)
        for name, axis in axes.items():
            axis_suffix = AXIS_SUFFIX[name]
            point = standing(axis, x["correct"], x[name])
            row.update({k + axis_suffix: v for k, v in asdict(point).items()
                        if k in ("fixed", "oracle_sc", "oracle_fc")})
            for which, suffix in (("sc", ""), ("fc", "_fc")):
                spread = resampled[name].regret_headroom(x["correct"], x[name], which)
                for what, values in zip(("regret", "headroom"), spread, strict=True):
                    col = what + suffix + axis_suffix
                    row[col] = getattr(point, what + suffix)
                    row[f"{col}_lo"], row[f"{col}_hi"] = interval(values, confidence)
        rows.append(row)
    return pd.DataFrame(rows)


# the curves a run is matched against: reference scaler -> (the axis it is matched on, what it
# controls for). Fixed budgets at equal total compute (does the rule beat a cap, side tokens
# and all?); random stops on the rule's grid at equal thinking (does its *timing* beat chance
# with the same thinking budget? a random stop draws no side tokens, so total compute would
# compare the side tokens instead)
REFERENCES = {BF: ("compute", "the budget"), RANDOM: ("thinking", "the timing")}
# the paired timing control (`timing_control`): its rows' reference
MATCHED_CONTROL = "random_stop_matched"


def _comparison(ref: str, axis: str, controls: str, r: Any, x: float) -> dict[str, Any]:
    return {"reference": ref, "axis": axis, "controls": controls, "rule": r.rule, "run": r.run,
            "scaler": r.scaler, "x": x, "accuracy": r.accuracy}


def matched(ops: pd.DataFrame, per_run: Mapping[str, dict[str, np.ndarray]],
            weights: np.ndarray, confidence: float) -> tuple[pd.DataFrame, list[np.ndarray]]:
    """Every run against each reference curve (REFERENCES: budget forcing's caps at equal total
    compute; the random-stop control at equal thinking, for the adaptive rules), the curve
    interpolated at the run's own mean on that axis, inside every bootstrap resample: the
    accuracy gained there (run minus curve) and what the run saves at equal accuracy (the
    curve's axis value where it first reaches the run's accuracy, minus the run's), each with
    its percentile interval and bootstrap p. A run outside the curve's range on the axis is
    reported as outside, never as matched. Returns the rows and each row's resampled gains."""
    rows: list[dict[str, Any]] = []
    gains: list[np.ndarray] = []
    if ops.empty:
        return pd.DataFrame(rows), gains
    rules = ops.assign(rule=ops["sweep"].fillna(ops["run"]))
    norm = weights.sum(axis=1)
    resampled = {r.run: {k: weights @ per_run[r.run][k] / norm
                         for k in ("correct", "compute", "thinking")}
                 for r in rules.itertuples()}
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
            gains.append(gain if inside else np.full(len(gain), np.nan))
            rows.append({
                **_comparison(ref, axis, controls, r, x),
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
    return pd.DataFrame(rows), gains


def timing_control(ops: pd.DataFrame, per_run: Mapping[str, dict[str, np.ndarray]],
                   grid: Grid, weights: np.ndarray, settings: Settings, samples: int = 1
                   ) -> tuple[pd.DataFrame, list[np.ndarray]]:
    """Each adaptive run against random timing with its own stop times: on the oracle grid's
    trace, its early stop points permuted over the questions (eigscale.scalers.random_stop.
    permuted_stops, `settings.control_draws` seeded draws) and each question answered as the
    grid answers at that cut (at its end where the draw is "no early stop" or past it). The
    control's correctness per question is its mean over the draws; the paired difference (rule
    minus control) has its percentile interval and bootstrap p, and the exact McNemar test of
    the rule against the first draw, one control run, is given beside it (with one trace per
    question: `samples` > 1 traces of a question are not independent pairs)."""
    rows: list[dict[str, Any]] = []
    gains: list[np.ndarray] = []
    norm = weights.sum(axis=1)
    thinking = Axis.thinking(grid)
    adaptive = ops[~ops["scaler"].isin([BF, RANDOM, NONE])]
    rows_ix = np.arange(len(grid.ends))[None, :]
    at_end = np.searchsorted(grid.cuts, grid.ends, side="left")  # c_i(T_i)'s column
    for r in adaptive.assign(rule=adaptive["sweep"].fillna(adaptive["run"])).itertuples():
        x = per_run[r.run]
        controls, spent = [], []
        for member in x["members"]:  # each seed's run against its own stops, dealt at random
            stops = permuted_stops(member["early_stop"], settings.control_draws, settings.seed)
            k = np.where(stops >= grid.ends[None, :], at_end[None, :],
                         np.searchsorted(grid.cuts, np.where(np.isfinite(stops), stops, 0),
                                         side="right") - 1)
            controls.append(thinking.correct[rows_ix, k].astype(float))
            spent.append(thinking.cost[rows_ix, k].mean())
        control = np.mean([c.mean(axis=0) for c in controls], axis=0)
        diff = x["correct"] - control
        gain = weights @ diff / norm
        first = x["members"][0]
        n10, n01, p_mc = mcnemar(first["correct"].astype(int), controls[0][0].astype(int)) \
            if samples == 1 else (np.nan, np.nan, np.nan)
        gains.append(gain)
        rows.append({
            **_comparison(MATCHED_CONTROL, "thinking", "the timing, paired", r, r.thinking),
            "position": "paired", "reference_accuracy": float(control.mean()),
            "reference_x": float(np.mean(spent)),
            "early_stops": int(np.mean([np.isfinite(m["early_stop"]).sum()
                                        for m in x["members"]])),
            "gain": float(diff.mean()),
            **dict(zip(("gain_lo", "gain_hi"), interval(gain, settings.confidence),
                       strict=True)),
            "p_gain": bootstrap_p(gain), "mcnemar_rule_only": n10, "mcnemar_control_only": n01,
            "p_mcnemar": p_mc})
    return pd.DataFrame(rows), gains


def family_wise(m: pd.DataFrame, gains: list[np.ndarray], confidence: float) -> pd.DataFrame:
    """Bonferroni over every comparison with a p of one model's table (all its tasks and
    references): p x m (at most 1) and the percentile interval at 1 - (1 - confidence) / m,
    which excludes 0 exactly when that p is below 1 - confidence."""
    m = m.copy()
    m["p_family"], m["gain_family_lo"], m["gain_family_hi"] = np.nan, np.nan, np.nan
    m["family_size"] = 0
    for _, part in m.groupby("model"):
        tested = part.index[part["p_gain"].notna()]
        size = len(tested)
        m.loc[part.index, "family_size"] = size
        for i in tested:
            m.loc[i, "p_family"] = min(1.0, size * m.loc[i, "p_gain"])
            m.loc[i, ["gain_family_lo", "gain_family_hi"]] = interval(
                gains[i], 1 - (1 - confidence) / size)
    return m


def cluster_weights(doc_ids: np.ndarray, k: int, resamples: int, seed: int) -> np.ndarray:
    """(resamples, traces) bootstrap counts of each trace (doc_ids: as_traces'): the
    questions drawn with replacement, each drawn question's k traces with it."""
    questions, index = np.unique(np.asarray(doc_ids) // k, return_inverse=True)
    return resample_weights(len(questions), resamples, seed)[:, index]


def analyse(runs: pd.DataFrame, questions: pd.DataFrame, grids: pd.DataFrame,
            settings: Settings, shapes: Mapping[str, ModelShape] | None = None
            ) -> dict[str, pd.DataFrame]:
    """{points, frontiers, operating_points, matched} over every (model, task) of the grids
    (grid rows carry model and task columns); the matched table with its family-wise columns
    (`family_wise`)."""
    column = compute_column(questions)
    gains: list[np.ndarray] = []  # each matched row's resampled gain, in the table's order
    out: dict[str, list[pd.DataFrame]] = {k: [] for k in ANALYSIS}
    for (model, task), rows in grids.groupby(["model", "task"], sort=True):
        k = samples_of(rows)
        ids = {"model": model, "task": task, "samples": k}
        rows = as_traces(rows, k)
        grid = Grid.from_frame(rows)
        weights = cluster_weights(grid.doc_ids, k, settings.bootstrap, settings.seed)
        mine = pooled_runs(runs[(runs["model"] == model) & (runs["task"] == task)])
        q = as_traces(questions[(questions["model"] == model) & (questions["task"] == task)], k)
        per_run = {r.run: pooled_questions([
            _per_question(q[q["run"] == m].assign(scaler=r.scaler), grid, m, column)
            for m in r.members]) for r in mine.itertuples()}
        on = axes(grid, rows, (shapes or {}).get(model), column)
        ops = operating_points(mine, per_run, on, weights, settings.confidence)
        compared, resampled_gains = matched(ops, per_run, weights, settings.confidence)
        control, control_gains = timing_control(ops, per_run, grid, weights, settings, k)
        gains += resampled_gains + control_gains
        parts = {"points": points(grid).assign(capped_cuts=capped_cuts(rows, grid),
                                               doc_id=grid.doc_ids // k,
                                               sample=grid.doc_ids % k),
                 "frontiers": frontiers(on), "operating_points": ops,
                 "matched": pd.concat([compared, control], ignore_index=True)}
        for name, df in parts.items():
            out[name].append(df.assign(**ids, compute_unit=column)[
                ["model", "task", *[c for c in df.columns], "samples", "compute_unit"]])
    tables = {k: pd.concat(v, ignore_index=True) if v else pd.DataFrame()
              for k, v in out.items()}
    if not tables["matched"].empty:
        tables["matched"] = family_wise(tables["matched"], gains, settings.confidence)
    return tables
