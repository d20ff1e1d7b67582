"""How good can stopping be: the oracle quantities of one (model, task) from its grid c_i(t).

The grid (eigscale-oracle, eigscale.lmeval.oracle_command) holds, per question i, the
correctness c_i(t) of the answer forced at thinking cut t, for t = 0, step, 2 step, ... and the
trace's end T_i. With G_i that grid (shared-notes peer-rules section 4):

- first-correct FC_i = min{t in G_i : c_i(t) = 1}; stays-correct SC_i = min{t : c_i(s) = 1 for
  every s >= t in G_i}; both infinite if never (SC_i also if the trace's end is wrong).
  Overthinking tokens T_i - FC_i, tokens after stabilisation T_i - SC_i.

Every curve is drawn on an `Axis`: what stopping question i at cut t costs, cost_i(t). On the
thinking axis that is min(t, T_i); on the total-compute axis (the primary one) the prompt, the
thinking to the cut and that cut's forced answer, as a fixed cap at t would be charged
(eigscale.pipeline.analysis). On either axis:

- fixed-budget frontier, cap B on the grid's steps: F(B) = mean_i c_i(min(B, T_i)) at mean
  cost mean_i cost_i(B); F at any mean cost by linear interpolation.
- oracle frontier, X in {SC, FC}: at a mean budget B the oracle stops each question it solves
  at a cost x_i and answers the others at their cheapest cut, g_i = min_t cost_i(t) (an answer
  given up on is counted wrong even when lucky); it solves the largest set S whose cost fits:
  sum_S x_i + sum_not-S g_i <= N B, the cheapest extra x_i - g_i first (unit values: greedy is
  the exact knapsack optimum). A*_FC, x_i the cheapest cut whose answer is right, is the upper
  bound: no rule that stops on this trace and answers as the grid does is right more often at
  the same mean cost (its side tokens only add cost). A*_SC, x_i = cost_i(SC_i), is the
  oracle that stops where the answer has become stable: the attainable reference, but a rule
  right by luck before stabilisation can beat it.
- a rule at accuracy Acc and mean cost B: regret A*(B) - Acc (0: as good as that oracle);
  headroom captured (Acc - F(B)) / (A*(B) - F(B)): 1 is the oracle, 0 no better than a fixed
  cap (undefined where the oracle has no headroom).

Every function takes per-question weights (bootstrap resample counts, eigscale.pipeline.stats);
none means each question once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from eigscale.pipeline.curves import interpolate, interpolate_rows, sorted_curves


def as_traces(frame: pd.DataFrame, k: int) -> pd.DataFrame:
    """Rows of one (model, task) with `doc_id` numbering their trace, doc_id * k + sample (the
    analysis's unit; its question is doc_id // k, its sample doc_id % k)."""
    sample = frame["sample"].fillna(0).astype(int) if "sample" in frame else 0
    return frame.assign(sample=sample, doc_id=frame["doc_id"].astype(int) * k + sample)


def samples_in(table: pd.DataFrame | None) -> int:
    """k of an analysis table's rows (their `samples` column; 1 for tables without one)."""
    return int(table["samples"].max()) if table is not None and "samples" in table \
        and len(table) else 1


def samples_of(grid_rows: pd.DataFrame) -> int:
    """k: the traces per question of a grid (1 for grids from before samples)."""
    if "sample" not in grid_rows or grid_rows["sample"].isna().all():
        return 1
    return int(grid_rows["sample"].max()) + 1


@dataclass(frozen=True)
class Grid:
    """c_i(t) of N questions: `cuts` holds every t that is a multiple of the step below the
    longest trace, and the longest trace's end; `correct[i, k]` is c_i(min(cuts[k], T_i))."""

    doc_ids: np.ndarray  # (N,)
    ends: np.ndarray  # (N,) T_i
    cuts: np.ndarray  # (K,) increasing
    correct: np.ndarray  # (N, K) 0/1
    fc: np.ndarray  # (N,) first-correct, inf if never
    sc: np.ndarray  # (N,) stays-correct, inf if never

    @classmethod
    def from_frame(cls, df: pd.DataFrame) -> Grid:
        """From grid rows of one (model, task): doc_id, t, end, correct."""
        df = df.sort_values(["doc_id", "t"])
        per = [g for _, g in df.groupby("doc_id", sort=True)]
        ends = np.array([int(g["end"].iloc[0]) for g in per])
        step = _step(df)
        cuts = np.unique(np.append(np.arange(0, ends.max(), step), ends.max()))
        correct = cell_matrix(per, ends, cuts, "correct").astype(np.int8)
        fc, sc = np.full(len(per), np.inf), np.full(len(per), np.inf)
        for i, g in enumerate(per):
            t, c = g["t"].to_numpy(), g["correct"].to_numpy().astype(int)
            fc[i], sc[i] = first_correct(t, c), stays_correct(t, c)
        return cls(df["doc_id"].unique(), ends, cuts, correct, fc, sc)

    def cells(self, df: pd.DataFrame, column: str) -> np.ndarray:
        """(N, K): a per-cut column of the grid rows at min(cuts[k], T_i), as `correct`."""
        per = [g for _, g in df.sort_values(["doc_id", "t"]).groupby("doc_id", sort=True)]
        return cell_matrix(per, self.ends, self.cuts, column)


def cell_matrix(per: list[pd.DataFrame], ends: np.ndarray, cuts: np.ndarray, column: str
                ) -> np.ndarray:
    """Each question's value of `column` at the cut min(B, T_i) for every B in cuts: the last
    of its grid points at or below it."""
    out = np.zeros((len(per), len(cuts)))
    for i, g in enumerate(per):
        at = np.searchsorted(g["t"].to_numpy(), np.minimum(cuts, ends[i]), side="right") - 1
        out[i] = g[column].to_numpy(float)[at]
    return out


def _step(df: pd.DataFrame) -> int:
    """The grid's step: each question's first cut after 0 is the step, or its end if the trace
    is shorter than a step; so the largest of them is the step."""
    positive = df[df["t"] > 0].groupby("doc_id")["t"].min()
    return int(positive.max()) if len(positive) else 1


def first_correct(t: np.ndarray, c: np.ndarray) -> float:
    hits = np.flatnonzero(c)
    return float(t[hits[0]]) if len(hits) else np.inf


def stays_correct(t: np.ndarray, c: np.ndarray) -> float:
    misses = np.flatnonzero(c == 0)
    if len(misses) == 0:
        return float(t[0])
    last_miss = misses[-1]
    return float(t[last_miss + 1]) if last_miss + 1 < len(t) else np.inf


def points(grid: Grid) -> pd.DataFrame:
    """One row per question: its trace's end, FC, SC, overthinking and post-stabilisation
    tokens (NaN where the point does not exist), and whether the trace's end is right."""
    return pd.DataFrame({
        "doc_id": grid.doc_ids, "end": grid.ends,
        "first_correct": np.where(np.isinf(grid.fc), np.nan, grid.fc),
        "stays_correct": np.where(np.isinf(grid.sc), np.nan, grid.sc),
        "overthinking": np.where(np.isinf(grid.fc), np.nan, grid.ends - grid.fc),
        "after_stable": np.where(np.isinf(grid.sc), np.nan, grid.ends - grid.sc),
        "end_correct": grid.correct[:, -1]})


@dataclass(frozen=True)
class Axis:
    """The grid on one cost axis: `cost[i, k]` is what stopping question i at cuts[k] costs
    (at min(cuts[k], T_i)), and the oracle's per-question costs that follow from it."""

    name: str  # "thinking", or the compute column ("flops", "processed_tokens")
    cost: np.ndarray  # (N, K)
    correct: np.ndarray  # (N, K) the grid's c_i
    give_up: np.ndarray  # (N,) g_i: the cheapest cut's cost
    fc: np.ndarray  # (N,) the cheapest right cut's cost, inf if never right
    sc: np.ndarray  # (N,) the cost at the stays-correct point, inf if never

    @classmethod
    def of(cls, grid: Grid, cost: np.ndarray, name: str) -> Axis:
        cost = np.asarray(cost, dtype=float)
        rows = np.arange(len(grid.ends))
        stable = np.isfinite(grid.sc)
        at_sc = np.searchsorted(grid.cuts, np.where(stable, grid.sc, 0), side="left")
        return cls(name, cost, grid.correct, cost.min(axis=1),
                   np.where(grid.correct == 1, cost, np.inf).min(axis=1),
                   np.where(stable, cost[rows, np.minimum(at_sc, len(grid.cuts) - 1)], np.inf))

    @classmethod
    def thinking(cls, grid: Grid) -> Axis:
        """Thinking tokens: cost_i(t) = min(t, T_i); giving up costs 0, FC_i and SC_i are
        the points themselves."""
        return cls.of(grid, np.minimum(grid.cuts[None, :], grid.ends[:, None]), "thinking")

    def oracle(self, which: str) -> np.ndarray:
        return self.sc if which == "sc" else self.fc


def _weights(n: int, w: np.ndarray | None) -> np.ndarray:
    return np.ones(n) if w is None else np.asarray(w, dtype=float)


def fixed_budget(axis: Axis, w: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(mean cost, accuracy) of a fixed cap at each of the grid's cuts."""
    w = _weights(len(axis.cost), w)
    return w @ axis.cost / w.sum(), w @ axis.correct / w.sum()


def fixed_budget_at(axis: Axis, budget: float, w: np.ndarray | None = None) -> float:
    """F at a mean cost: linear between the caps' (cost, accuracy) points in cost order (the
    end points' accuracy beyond them)."""
    return interpolate(*fixed_budget(axis, w), budget, clamp=True)


def oracle_at(costs: np.ndarray, budget: float, w: np.ndarray | None = None,
              give_up: np.ndarray | None = None) -> float:
    """A*(budget): the share of questions an oracle that stops question i at costs[i] (inf:
    never right), answering the others at give_up[i] (default 0), solves within a mean budget,
    the cheapest extra first."""
    w = _weights(len(costs), w)
    g = np.zeros(len(costs)) if give_up is None else np.asarray(give_up, dtype=float)
    n = w.sum()
    ok = np.isfinite(costs) & (w > 0)
    extra, counts = costs[ok] - g[ok], w[ok]
    order = np.argsort(extra, kind="stable")
    return _solved(extra[order], counts[order], np.cumsum(extra[order] * counts[order]),
                   n * budget - w @ g) / n


def _solved(extra: np.ndarray, counts: np.ndarray, spent: np.ndarray, room: float) -> float:
    """How many (weighted) questions fit in `room`, cheapest extra first (sorted; spent is the
    running total)."""
    if room < 0 or not len(extra):
        return 0.0
    whole = int(np.searchsorted(spent, room, side="right"))  # groups of copies that fit whole
    solved = float(counts[:whole].sum())
    if whole < len(extra):  # some copies of the next question still fit
        left = room - (spent[whole - 1] if whole else 0.0)
        solved += counts[whole] if extra[whole] <= 0 else min(counts[whole],
                                                              np.floor(left / extra[whole]))
    return solved


def oracle_choice(costs: np.ndarray, budget: float, give_up: np.ndarray | None = None
                  ) -> np.ndarray:
    """What the oracle spends on each question at this mean budget (costs[i] where it solves
    question i, give_up[i] elsewhere)."""
    n = len(costs)
    g = np.zeros(n) if give_up is None else np.asarray(give_up, dtype=float)
    stops = g.copy()
    extra = np.where(np.isfinite(costs), costs - g, np.inf)
    room = n * budget - g.sum()
    for i in np.argsort(extra, kind="stable"):
        if not np.isfinite(extra[i]) or extra[i] > room:
            break
        room -= extra[i]
        stops[i] = costs[i]
    return stops


def oracle_frontier(axis: Axis, which: str, budgets: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    """(mean cost spent, A*) of the oracle at each mean budget."""
    costs = axis.oracle(which)
    acc = np.array([oracle_at(costs, b, give_up=axis.give_up) for b in budgets])
    return np.array([oracle_choice(costs, b, axis.give_up).mean() for b in budgets]), acc


@dataclass(frozen=True)
class Standing:
    """A rule's operating point against the oracle on one axis (see module doc)."""

    accuracy: float
    spent: float  # mean cost on the axis
    fixed: float  # F(spent)
    oracle_sc: float  # A*_SC(spent)
    oracle_fc: float  # A*_FC(spent)
    regret: float  # A*_SC - accuracy
    headroom: float  # NaN where A*_SC <= F
    regret_fc: float  # the same against A*_FC, the upper bound
    headroom_fc: float


def _versus(acc, fixed, best):
    """(regret, headroom captured) against an oracle accuracy `best` (arrays or floats)."""
    gap = np.asarray(best - fixed, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        headroom = np.where(gap > 1e-12, (acc - fixed) / gap, np.nan)
    return best - acc, headroom


def standing(axis: Axis, correct: np.ndarray, spent: np.ndarray,
             w: np.ndarray | None = None) -> Standing:
    """A rule's standing from its per-question correctness and cost on the axis (in the order
    of the grid's questions), under weights w."""
    wt = _weights(len(correct), w)
    n = wt.sum()
    acc, budget = float(wt @ correct / n), float(wt @ spent / n)
    fixed = fixed_budget_at(axis, budget, w)
    sc, fc = (oracle_at(axis.oracle(k), budget, w, axis.give_up) for k in ("sc", "fc"))
    (regret, headroom), (regret_fc, headroom_fc) = (_versus(acc, fixed, b) for b in (sc, fc))
    return Standing(acc, budget, fixed, sc, fc, float(regret), float(headroom),
                    float(regret_fc), float(headroom_fc))


class Resampled:
    """The oracle quantities of one axis under many weightings at once (bootstrap resamples,
    (R, N)): what does not depend on the rule (the fixed-budget curves, the oracle's sorted
    cumulative costs) is computed once."""

    def __init__(self, axis: Axis, weights: np.ndarray) -> None:
        self.axis, self.weights = axis, np.asarray(weights, dtype=float)
        self.n = self.weights.sum(axis=1)
        self.fixed = sorted_curves(self.weights @ axis.cost / self.n[:, None],
                                   self.weights @ axis.correct / self.n[:, None])
        self.given_up = self.weights @ axis.give_up  # each resample's cost of giving up on all
        self.oracle = {which: self._sorted(axis.oracle(which)) for which in ("sc", "fc")}

    def _sorted(self, costs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        ok = np.flatnonzero(np.isfinite(costs))
        extra = costs[ok] - self.axis.give_up[ok]
        order = np.argsort(extra, kind="stable")
        extra, counts = extra[order], self.weights[:, ok[order]]
        return extra, counts, np.cumsum(counts * extra[None, :], axis=1)

    def oracle_at(self, budgets: np.ndarray, which: str = "sc") -> np.ndarray:
        """A*_which at each resample's own budget (one per resample)."""
        extra, counts, spent = self.oracle[which]
        return np.array([_solved(extra, counts[r], spent[r],
                                 self.n[r] * budget - self.given_up[r]) / self.n[r]
                         for r, budget in enumerate(budgets)])

    def regret_headroom(self, correct: np.ndarray, spent: np.ndarray, which: str = "sc"
                        ) -> tuple[np.ndarray, np.ndarray]:
        """A rule's regret and headroom captured against A*_which in every resample."""
        acc = self.weights @ correct / self.n
        budget = self.weights @ spent / self.n
        fixed = interpolate_rows(*self.fixed, budget, clamp=True)
        return _versus(acc, fixed, self.oracle_at(budget, which))
