"""The paper figures, from the tidy tables (eigscale.pipeline.metrics, .analysis). One style; PDF
and PNG.

1. accuracy_vs_tokens: accuracy against total compute per question (FLOP estimate, or tokens
   processed; eigscale.compute) and, below, against thinking tokens, one column per (model,
   task); every sweep as a curve with 95% paired bootstrap intervals, single runs as points,
   each rule's Pareto points filled; the fixed-budget frontier F(B) and the oracle frontiers
   A*_SC and A*_FC dashed.
2. eig_trajectories: H_t and EIG over thinking tokens for a few questions of the EIG runs, with
   each run's lambda_cost drawn.
3. cost_breakdown: tokens per question by kind (thinking, candidates, MC, answer, scoring
   prefill not served from the cache) per run.
4. oracle_heatmap: c_i(t), question by cut, ordered by stays-correct point.
5. regret: each operating point's regret against A*_SC, with its interval, and against the
   upper bound A*_FC, at equal total compute (top) and at equal thinking tokens (below).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.colors
import matplotlib.patches
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from eigscale.pipeline.frontier import Grid, as_traces, samples_in, samples_of
from eigscale.pipeline.outputs import FIGURES
from eigscale.scalers import SCALERS
from eigscale.scalers.eig_reasoning import EIGReasoning

STYLE = {"font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "legend.fontsize": 8,
         "axes.grid": True, "grid.alpha": 0.3, "figure.dpi": 150, "savefig.bbox": "tight"}
# each rule's colour and label, as its scaler class declares them
COLORS = {name: cls.colour for name, cls in SCALERS.items()}
LABELS = {name: cls.label for name, cls in SCALERS.items()}
EIG = EIGReasoning.name


def _save(fig: plt.Figure, pdf: str, png: str) -> None:
    for path in (pdf, png):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path)
    plt.close(fig)


def _panels(n: int, width: float = 4.2, height: float = 3.2):
    fig, axes = plt.subplots(1, n, figsize=(width * n, height), squeeze=False)
    return fig, axes[0]


# the x axes of accuracy_vs_tokens: total compute first (a rule is charged for everything it
# made the model process, eigscale.compute), thinking tokens second
COMPUTE_UNITS = {"flops": (1e-9, "total compute per question (GFLOPs, est.)"),
                 "processed_tokens": (1.0, "total tokens processed per question")}
# the oracle analysis' curves (eigscale.pipeline.frontier): (label, colour, line style)
FRONTIERS = {"fixed": ("fixed budget F(B)", "#1f77b4", (0, (4, 2))),
             "oracle_sc": ("oracle A*_SC (stops where the answer stays right)", "#000000",
                           (0, (5, 2))),
             "oracle_fc": ("upper bound A*_FC (the cheapest right cut)", "#7f7f7f",
                           (0, (1, 2)))}


def pareto(x: pd.Series, y: pd.Series) -> pd.Series:
    """True for the points no other point beats (at most its cost, at least its accuracy,
    better in one)."""
    return pd.Series([not ((x <= xi) & (y >= yi) & ((x < xi) | (y > yi))).any()
                      for xi, yi in zip(x, y, strict=True)], index=x.index)


def accuracy_vs_tokens(ops: pd.DataFrame, frontiers: pd.DataFrame | None = None
                       ) -> plt.Figure:
    """Accuracy against total compute (top) and thinking tokens (below), one column per
    (model, task): each rule's operating points with their paired bootstrap intervals, its
    Pareto points filled (dominated ones hollow), and the oracle's curves dashed."""
    groups = list(ops.groupby(["model", "task"]))
    unit = ops["compute_unit"].iloc[0] if "compute_unit" in ops and len(ops) else \
        "processed_tokens"
    axes_spec = [("compute", *COMPUTE_UNITS[unit]),
                 ("thinking", 1.0, "thinking tokens per question")]
    fig, grid = plt.subplots(2, max(1, len(groups)),
                             figsize=(4.8 * max(1, len(groups)), 3.6 * 2), squeeze=False)
    for row, (column, scale, xlabel) in enumerate(axes_spec):
        for ax, ((model, task), df) in zip(grid[row], groups, strict=False):
            labels = []
            if frontiers is not None and len(frontiers):
                mine = frontiers[(frontiers["model"] == model) & (frontiers["task"] == task)]
                for curve, (name, color, style) in FRONTIERS.items():
                    # in cost order, as the analysis reads it (on the compute axis a larger
                    # cap may cost less: its forced answers are shorter)
                    f = mine[(mine["curve"] == curve) & (mine["axis"] == column)]
                    f = f.sort_values("x", kind="stable")
                    ax.plot(scale * f["x"], 100 * f["accuracy"], color=color, ls=style,
                            lw=1.2, label=name, zorder=1)
            sweeps_of: dict[str, int] = {}  # a rule's second sweep (its own exit) is dashed
            for (scaler, sweep), part in df.groupby(["scaler", df["sweep"].fillna("")]):
                part = part.sort_values(column)
                k = sweeps_of[scaler] = sweeps_of.get(scaler, -1) + (1 if sweep else 0)
                label = LABELS[scaler] + (f" ({sweep} sweep)" if sweep
                                          else f" ({part['run'].iloc[0]})")
                x, y = scale * part[column], 100 * part["accuracy"]
                err = [100 * (part["accuracy"] - part["accuracy_lo"]).clip(lower=0),
                       100 * (part["accuracy_hi"] - part["accuracy"]).clip(lower=0)]
                ax.errorbar(x, y, yerr=err, marker="none", capsize=3, lw=1.5,
                            color=COLORS[scaler],
                            ls=SWEEP_STYLES[max(k, 0) % len(SWEEP_STYLES)] if sweep else "none",
                            label=label,
                            zorder=2)
                front = pareto(x, y)
                ax.scatter(x[front], y[front], s=22, color=COLORS[scaler], zorder=3)
                ax.scatter(x[~front], y[~front], s=22, facecolor="white",
                           edgecolor=COLORS[scaler], zorder=3)
                if sweep:
                    labels += [(scale * r[column], 100 * r["accuracy"],
                                f"{r['value']:g}" if isinstance(r["value"], float)
                                else str(r["value"]), COLORS[scaler])
                               for _, r in part.iterrows()]
            kind = "primary: total compute" if row == 0 else "secondary view: thinking only"
            ax.set_title(f"{panel(task, model, df)}; {kind}")
            ax.set_xlabel(xlabel)
            ax.set_ylabel("accuracy (%)")
            ax.set_xlim(left=0)
            if row == 1:
                ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2,
                          frameon=False)
            _label_points(ax, labels)
    fig.suptitle("Accuracy against compute (95% paired bootstrap intervals; filled: Pareto "
                 "points; labels: swept value)", y=1.01)
    fig.tight_layout()
    return fig


# where a point's label may go (offset points), nearest first
LABEL_OFFSETS = [(4, 4), (4, -10), (-4, 4), (-4, -10), (4, 14), (4, -20), (-4, 14), (-4, -20)]


def _label_points(ax: plt.Axes, labels: list[tuple[float, float, str, str]]) -> None:
    """Label each (x, y) with its text at the first offset where it covers no label placed
    before: sweep points of similar cost and accuracy would otherwise print over each other.
    When every offset collides, the nearest one is used."""
    renderer = ax.figure.canvas.get_renderer()
    placed = []
    for x, y, text, color in labels:
        for offset in [*LABEL_OFFSETS, None]:
            note = ax.annotate(text, (x, y), textcoords="offset points",
                               xytext=offset or LABEL_OFFSETS[0], fontsize=7, color=color,
                               ha="right" if offset and offset[0] < 0 else "left",
                               # readable where a curve or an error bar passes behind it
                               bbox={"boxstyle": "square,pad=0.1", "fc": "white",
                                     "ec": "none", "alpha": 0.8})
            box = note.get_window_extent(renderer)
            if offset is None or not any(box.overlaps(b) for b in placed):
                break
            note.remove()
        placed.append(box)


def eig_trajectories(runs: pd.DataFrame, questions: pd.DataFrame, per_run: int = 3
                     ) -> plt.Figure:
    eig_runs = runs[runs["scaler"] == EIG]
    fig, axes = _panels(max(1, min(3, len(eig_runs))))
    if eig_runs.empty:
        axes[0].text(0.5, 0.5, "no EIG runs in this configuration", ha="center", va="center",
                     transform=axes[0].transAxes)
        axes[0].set_axis_off()
        return fig
    for ax, (_, r) in zip(axes, eig_runs.head(len(axes)).iterrows(), strict=False):
        q = questions[(questions["run"] == r["run"]) & (questions["model"] == r["model"])
                      & (questions["task"] == r["task"])]
        q = q.sort_values("decisions", ascending=False).head(per_run)
        for i, (_, row) in enumerate(q.iterrows()):
            traj = json.loads(row["trajectory"])
            if not traj:
                continue
            x, h, e = zip(*traj, strict=True)
            color = f"C{i}"
            ax.plot(x, h, marker="o", ms=3, color=color, ls="--", lw=1,
                    label=f"q{row['doc_id']} $H_t$")
            ax.plot(x, e, marker="s", ms=3, color=color, lw=1.5, label=f"q{row['doc_id']} EIG")
        ax.axhline(r["lambda_cost"], color="k", lw=1, ls=":", label=f"λ = {r['lambda_cost']}")
        ax.set_title(f"{r['run']} ({r['task']})")
        ax.set_xlabel("thinking tokens at the decision")
        ax.set_ylabel("nats")
        ax.set_xlim(left=0, right=max(ax.get_xlim()[1], 1) * 1.05)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3, frameon=False)
    fig.suptitle("EIG decisions: answer entropy $H_t$ (dashed) and EIG (solid)", y=1.02)
    return fig


def cost_breakdown(runs: pd.DataFrame) -> plt.Figure:
    df = runs.copy()
    n = df["questions"].clip(lower=1)
    df["score_uncached_tokens"] = df["score_prompt_tokens"] - df["score_cached_tokens"]
    # probe columns are absent from metrics written before probes were counted
    df["probe_all_tokens"] = df.get("probe_tokens", 0) + df.get("probe_prompt_tokens", 0)
    kinds = {"thinking": "thinking_tokens", "candidates": "candidate_tokens",
             "MC samples": "mc_tokens", "probes (written + prompt)": "probe_all_tokens",
             "answer": "answer_tokens",
             "scoring prefill (uncached)": "score_uncached_tokens"}
    labels = [f"{r.run}\n({r.task})" if df["task"].nunique() > 1 else r.run
              for r in df.itertuples()]
    fig, ax = plt.subplots(figsize=(max(4.5, 0.7 * len(df) + 1.5), 3.4))
    bottom = pd.Series(0.0, index=df.index)
    for i, (name, col) in enumerate(kinds.items()):
        values = df[col] / n
        ax.bar(labels, values, bottom=bottom, label=name, color=f"C{i}")
        bottom += values
    ax.set_ylabel("tokens processed per question")
    ax.set_xlabel("run")
    ax.set_title("Where the compute goes")
    ax.tick_params(axis="x", labelrotation=45)
    for label in ax.get_xticklabels():
        label.set_ha("right")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    return fig


def panel(task: str, model: str, df: pd.DataFrame | None = None, k: int | None = None
          ) -> str:
    """A panel's name: its task and model, and k where each question has k sampled traces
    (accuracy is then pass@1 over them; an analysis table's `samples` column, or k)."""
    k = samples_in(df) if k is None else k
    return f"{task} ({model})" if k <= 1 else f"{task} ({model}; pass@1, k = {k})"


def oracle_heatmap(grids: pd.DataFrame) -> plt.Figure:
    """c_i(t) per trace (rows, ordered by stays-correct point, never-correct last; with k
    sampled traces per question each is a row, "question/sample") and cut (columns); past a
    trace's end its end's answer holds."""
    groups = list(grids.groupby(["model", "task"])) if len(grids) else []
    fig, axes = _panels(max(1, len(groups)), 4.8, 3.8)
    for ax, ((model, task), rows) in zip(axes, groups, strict=False):
        k = samples_of(rows)
        g = Grid.from_frame(as_traces(rows, k))
        order = sorted(range(len(g.doc_ids)), key=lambda i: (g.sc[i], g.fc[i], g.doc_ids[i]))
        past_end = g.cuts[None, :] > g.ends[:, None]
        shown = np.where(past_end, 0.5 + 0.3 * g.correct, g.correct)[order]
        cmap = matplotlib.colors.ListedColormap(["#f2f2f2", "#bfbfbf", "#9ecae1", "#08519c"])
        norm = matplotlib.colors.BoundaryNorm([-0.1, 0.25, 0.65, 0.9, 1.1], cmap.N)
        ax.imshow(shown, aspect="auto", interpolation="nearest", cmap=cmap, norm=norm,
                  extent=(-0.5, len(g.cuts) - 0.5, len(order) - 0.5, -0.5))
        # every cut labelled, or (past 40 of them) every k-th at a regular spacing and the end
        every = 1 if len(g.cuts) <= 40 else int(np.ceil(len(g.cuts) / 20))
        ticks = sorted({*range(0, len(g.cuts), every), len(g.cuts) - 1})
        ax.set_xticks(ticks, [str(int(g.cuts[k])) for k in ticks],
                      rotation=90 if len(ticks) > 10 else 0, fontsize=7 if len(ticks) > 10 else 9)
        ax.set_yticks(range(len(order)), [str(g.doc_ids[i]) if k == 1 else
                                          f"{g.doc_ids[i] // k}/{g.doc_ids[i] % k}"
                                          for i in order],
                      fontsize=6 if len(order) > 20 else 8)
        ax.grid(False)
        ax.set_xlabel("thinking tokens at the cut")
        ax.set_ylabel("question (by stays-correct point)" if k == 1 else
                      "question/sample (by stays-correct point)")
        ax.set_title(panel(task, model, k=k))
    handles = [matplotlib.patches.Patch(color=c, label=t) for c, t in
               (("#08519c", "right"), ("#f2f2f2", "wrong"),
                ("#9ecae1", "right (trace ended)"), ("#bfbfbf", "wrong (trace ended)"))]
    axes[0].legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2,
                   frameon=False)
    fig.suptitle("Forced-answer correctness $c_i(t)$ along each trace (one per question, or its "
                 "k sampled traces)",
                 y=1.02)
    return fig


# the regret figure's rows: (column suffix of the analysis, the axis it is read at)
REGRET_AXES = (("", "equal total compute (primary)"), ("_thinking", "equal thinking tokens"))


SWEEP_STYLES = ("-", "--", ":", "-.")  # a rule's sweeps, in name order


def regret(ops: pd.DataFrame) -> plt.Figure:
    """Each operating point's regret, one column per (model, task): at equal total compute
    (top) and at equal thinking tokens (below), against A*_SC (bars, with the paired bootstrap
    interval) and against the upper bound A*_FC (marks)."""
    groups = list(ops.groupby(["model", "task"])) if len(ops) else []
    width = max(4.5, 0.45 * len(ops) / max(1, len(groups)) + 1.5)
    fig, grid = plt.subplots(2, max(1, len(groups)), figsize=(width * max(1, len(groups)), 7.4),
                             squeeze=False)
    for row, (suffix, axis_name) in enumerate(REGRET_AXES):
        for ax, ((model, task), df) in zip(grid[row], groups, strict=False):
            df = df.reset_index(drop=True)
            sc, fc = f"regret{suffix}", f"regret_fc{suffix}"
            err = [100 * (df[sc] - df[f"{sc}_lo"]).clip(lower=0),
                   100 * (df[f"{sc}_hi"] - df[sc]).clip(lower=0)]
            ax.bar(df["run"], 100 * df[sc], color=[COLORS[s] for s in df["scaler"]], yerr=err,
                   capsize=2, label="vs A*_SC, the stays-correct oracle (bars, 95% interval)")
            ax.scatter(df["run"], 100 * df[fc], marker="_", s=120, color="k", zorder=3,
                       label="vs A*_FC, the upper bound")
            ax.axhline(0, color="k", lw=0.8)
            ax.set_ylabel("oracle minus run (pp)")
            ax.set_title(f"{panel(task, model, df)}; at {axis_name}")
            ax.tick_params(axis="x", labelrotation=60)
            for label in ax.get_xticklabels():
                label.set_ha("right")
    fig.suptitle("Regret: an oracle's accuracy at the run's mean cost minus the run's (lower "
                 "is better; below 0 against A*_SC: right by luck before answers stabilise)",
                 y=0.995)
    # one legend for the figure, in a band of its own between the title and the panels (below
    # the panels it would meet the long run labels)
    handles, labels = grid[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.965), ncol=2,
               frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    return fig


def make_figures(tables: Mapping[str, pd.DataFrame], outputs: Mapping[str, str]) -> None:
    """Write every figure from the tables {runs, questions (eigscale.pipeline.metrics),
    operating_points, frontiers (eigscale.pipeline.analysis), grids (the oracle grids, with
    model and task columns)}; `outputs` maps "<figure>_<pdf|png>" to a path."""
    with plt.rc_context(STYLE):
        for name in FIGURES:
            _save(BUILDERS[name](tables), outputs[f"{name}_pdf"], outputs[f"{name}_png"])


# figure name (eigscale.pipeline.outputs.FIGURES) -> its figure, from make_figures' tables
BUILDERS: dict[str, Callable[[Mapping[str, pd.DataFrame]], plt.Figure]] = {
    "accuracy_vs_tokens": lambda t: accuracy_vs_tokens(t["operating_points"], t["frontiers"]),
    "eig_trajectories": lambda t: eig_trajectories(t["runs"], t["questions"]),
    "cost_breakdown": lambda t: cost_breakdown(t["runs"]),
    "oracle_heatmap": lambda t: oracle_heatmap(t["grids"]),
    "regret": lambda t: regret(t["operating_points"]),
}
