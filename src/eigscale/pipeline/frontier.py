"""How good can stopping be: the oracle quantities of one (model, task) from its grid c_i(t).

The grid (eigscale-oracle, eigscale.lmeval.oracle_command) holds, per question i, the
correctness c_i(t) of the answer forced at thinking cut t, for t = 0, step, 2 step, ... and the
trace's end T_i. With G_i that grid (shared-notes peer-rules section 4):

- first-correct FC_i = min{t in G_i : c_i(t) = 1}; stays-correct SC_i = min{t : c_i(s) = 1 for
  every s >= t in G_i}; both infinite if never (SC_i also if the trace's end is wrong).
  Overthinking tokens T_i - FC_i, tokens after stabilisation T_i - SC_i.
- fixed-budget frontier, cap B on the grid's steps: F(B) = mean_i c_i(min(B, T_i)) at mean
  thinking tokens mean_i min(B, T_i); F at any mean budget by linear interpolation.
- oracle frontier, X in {SC, FC}: at a mean thinking budget B the oracle stops each question it
  solves at X_i and gives up on the others by answering at the smallest grid point t_0 = 0
  (the cost of giving up is 0 thinking tokens; such an answer is counted wrong even when lucky);
  it solves the largest set S whose cost fits: sum_S X_i + (N - |S|) t_0 <= N B, the cheapest
  first (unit values: greedy is the exact knapsack optimum). A*_X(B) = |S| / N. A*_SC is the
  reference; A*_FC credits answers that are right by chance and later change.
- a rule at accuracy Acc and mean thinking tokens B: regret A*_SC(B) - Acc; headroom captured
  (Acc - F(B)) / (A*_SC(B) - F(B)): 1 is the oracle, 0 no better than a fixed cap (undefined
  where the oracle has no headroom). The same against A*_FC (regret_fc, headroom_fc) is the
  optimistic bound: where no trace's end is right, A*_SC is 0 and a rule that is right by
  chance has negative regret against it.

Every function takes per-question weights (bootstrap resample counts, eigscale.pipeline.stats);
none means each question once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

GIVE_UP = 0.0  # thinking tokens the oracle spends on a question it does not solve: t_0


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
        docs = df["doc_id"].unique()
        per = [g for _, g in df.groupby("doc_id", sort=True)]
        ends = np.array([int(g["end"].iloc[0]) for g in per])
        step = _step(df)
        cuts = np.unique(np.append(np.arange(0, ends.max(), step), ends.max()))
        correct = np.zeros((len(per), len(cuts)), dtype=np.int8)
        fc, sc = np.full(len(per), np.inf), np.full(len(per), np.inf)
        for i, g in enumerate(per):
            t, c = g["t"].to_numpy(), g["correct"].to_numpy().astype(int)
            # the cut at min(B, T_i): the last grid point at or below it
            correct[i] = c[np.searchsorted(t, np.minimum(cuts, ends[i]), side="right") - 1]
            fc[i], sc[i] = first_correct(t, c), stays_correct(t, c)
        return cls(docs, ends, cuts, correct, fc, sc)


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


def _weights(grid: Grid, w: np.ndarray | None) -> np.ndarray:
    return np.ones(len(grid.ends)) if w is None else np.asarray(w, dtype=float)


def fixed_budget(grid: Grid, w: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(mean thinking tokens, accuracy) of a fixed cap at each of grid.cuts."""
    w = _weights(grid, w)
    n = w.sum()
    tokens = w @ np.minimum(grid.cuts[None, :], grid.ends[:, None]) / n
    return tokens, w @ grid.correct / n


def fixed_budget_at(grid: Grid, budget: float, w: np.ndarray | None = None) -> float:
    """F at a mean thinking budget: linear between the caps' (tokens, accuracy) points."""
    tokens, acc = fixed_budget(grid, w)
    return float(np.interp(budget, tokens, acc))


def oracle_at(costs: np.ndarray, budget: float, w: np.ndarray | None = None,
              give_up: float = GIVE_UP) -> float:
    """A*(budget): the share of questions an oracle that stops question i at costs[i] (inf:
    never right) solves within a mean thinking budget, the cheapest first."""
    w = np.ones(len(costs)) if w is None else np.asarray(w, dtype=float)
    n = w.sum()
    ok = np.isfinite(costs) & (w > 0)
    extra, counts = costs[ok] - give_up, w[ok]
    order = np.argsort(extra, kind="stable")
    extra, counts = extra[order], counts[order]
    room = n * (budget - give_up)
    if room < 0:
        return 0.0
    spent = np.cumsum(extra * counts)
    whole = int(np.searchsorted(spent, room, side="right"))  # groups of copies that fit whole
    solved = counts[:whole].sum()
    if whole < len(extra):  # some copies of the next question still fit
        left = room - (spent[whole - 1] if whole else 0.0)
        solved += counts[whole] if extra[whole] == 0 else min(counts[whole],
                                                             np.floor(left / extra[whole]))
    return float(solved / n)


def oracle_frontier(grid: Grid, which: str = "sc") -> tuple[np.ndarray, np.ndarray]:
    """(mean thinking tokens spent, A*) of the oracle at each mean budget in grid.cuts."""
    costs = grid.sc if which == "sc" else grid.fc
    acc = np.array([oracle_at(costs, b) for b in grid.cuts])
    return np.array([oracle_spent(costs, b) for b in grid.cuts]), acc


def oracle_choice(costs: np.ndarray, budget: float, give_up: float = GIVE_UP) -> np.ndarray:
    """Where the oracle stops each question at this mean budget (its cost, or give_up)."""
    n = len(costs)
    stops = np.full(n, give_up)
    order = np.argsort(np.where(np.isfinite(costs), costs, np.inf), kind="stable")
    spent = 0.0
    for i in order:
        if not np.isfinite(costs[i]) or spent + costs[i] - give_up > n * (budget - give_up):
            break
        spent += costs[i] - give_up
        stops[i] = costs[i]
    return stops


def oracle_spent(costs: np.ndarray, budget: float) -> float:
    return float(oracle_choice(costs, budget).mean())


@dataclass(frozen=True)
class Standing:
    """A rule's operating point against the oracle (see module doc)."""

    accuracy: float
    thinking: float  # mean thinking tokens
    fixed: float  # F(thinking)
    oracle_sc: float  # A*_SC(thinking)
    oracle_fc: float  # A*_FC(thinking)
    regret: float  # A*_SC - accuracy
    headroom: float  # NaN where A*_SC <= F
    regret_fc: float  # the same against A*_FC
    headroom_fc: float


def _versus(acc, fixed, best):
    """(regret, headroom captured) against an oracle accuracy `best` (arrays or floats)."""
    gap = np.asarray(best - fixed, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        headroom = np.where(gap > 1e-12, (acc - fixed) / gap, np.nan)
    return best - acc, headroom


def standing(grid: Grid, correct: np.ndarray, thinking: np.ndarray,
             w: np.ndarray | None = None) -> Standing:
    """A rule's standing from its per-question correctness and thinking tokens (in the order
    of grid.doc_ids), under weights w."""
    wt = _weights(grid, w)
    n = wt.sum()
    acc, budget = float(wt @ correct / n), float(wt @ thinking / n)
    fixed = fixed_budget_at(grid, budget, w)
    sc, fc = oracle_at(grid.sc, budget, w), oracle_at(grid.fc, budget, w)
    (regret, headroom), (regret_fc, headroom_fc) = (_versus(acc, fixed, b) for b in (sc, fc))
    return Standing(acc, budget, fixed, sc, fc, float(regret), float(headroom),
                    float(regret_fc), float(headroom_fc))


class Resampled:
    """The oracle quantities of one grid under many weightings at once (bootstrap resamples,
    (R, N)): what does not depend on the rule (the fixed-budget curves, the oracle's sorted
    cumulative costs) is computed once."""

    def __init__(self, grid: Grid, weights: np.ndarray) -> None:
        self.grid, self.weights = grid, np.asarray(weights, dtype=float)
        self.n = self.weights.sum(axis=1)
        self.fixed_tokens = self.weights @ np.minimum(grid.cuts[None, :], grid.ends[:, None]) \
            / self.n[:, None]
        self.fixed_acc = self.weights @ grid.correct / self.n[:, None]
        self.oracle = {which: self._sorted(costs) for which, costs in
                       (("sc", grid.sc), ("fc", grid.fc))}

    def _sorted(self, costs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        ok = np.flatnonzero(np.isfinite(costs))
        order = ok[np.argsort(costs[ok], kind="stable")]
        extra = costs[order] - GIVE_UP
        counts = self.weights[:, order]
        return extra, counts, np.cumsum(counts * extra[None, :], axis=1)

    def oracle_at(self, budgets: np.ndarray, which: str = "sc") -> np.ndarray:
        """A*_which at each resample's own budget (one per resample)."""
        extra, counts, spent = self.oracle[which]
        out = np.zeros(len(budgets))
        for r, budget in enumerate(budgets):
            room = self.n[r] * (budget - GIVE_UP)
            if room < 0 or not len(extra):
                continue
            whole = int(np.searchsorted(spent[r], room, side="right"))
            solved = counts[r, :whole].sum()
            if whole < len(extra):
                left = room - (spent[r, whole - 1] if whole else 0.0)
                solved += counts[r, whole] if extra[whole] == 0 else min(
                    counts[r, whole], np.floor(left / extra[whole]))
            out[r] = solved / self.n[r]
        return out

    def regret_headroom(self, correct: np.ndarray, thinking: np.ndarray, which: str = "sc"
                        ) -> tuple[np.ndarray, np.ndarray]:
        """A rule's regret and headroom captured against A*_which in every resample."""
        acc = self.weights @ correct / self.n
        budget = self.weights @ thinking / self.n
        fixed = np.array([np.interp(b, x, y) for b, x, y in
                          zip(budget, self.fixed_tokens, self.fixed_acc, strict=True)])
        return _versus(acc, fixed, self.oracle_at(budget, which))
