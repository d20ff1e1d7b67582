"""The paper figures, from the tidy tables (eigscale.pipeline.metrics). One style; PDF and PNG.

1. accuracy_vs_tokens: accuracy against total compute per question (FLOP estimate, or tokens
   processed; eigscale.compute) and, below, against thinking tokens, one column per (model,
   task); every sweep as a curve with stderr bars, single runs as points.
2. eig_trajectories: H_t and EIG over thinking tokens for a few questions of the EIG runs, with
   each run's lambda_cost drawn.
3. cost_breakdown: tokens per question by kind (thinking, candidates, MC, answer, scoring
   prefill not served from the cache) per run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

STYLE = {"font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "legend.fontsize": 8,
         "axes.grid": True, "grid.alpha": 0.3, "figure.dpi": 150, "savefig.bbox": "tight"}
COLORS = {"none": "#444444", "budget_forcing": "#1f77b4",
          "expected_information_gain_reasoning": "#d62728", "answer_entropy": "#ff7f0e",
          "dynasor_cot": "#2ca02c", "deer": "#9467bd"}
LABELS = {"none": "no scaling", "budget_forcing": "budget forcing",
          "expected_information_gain_reasoning": "EIG", "answer_entropy": "answer entropy",
          "dynasor_cot": "Dynasor-CoT", "deer": "DEER"}
EIG = "expected_information_gain_reasoning"


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
COMPUTE_AXES = (("flops_mean", 1e-9, "total compute per question (GFLOPs, est.)"),
                ("processed_mean", 1.0, "total tokens processed per question"),
                ("thinking_mean", 1.0, "thinking tokens per question"))


def _compute_axes(runs: pd.DataFrame) -> list[tuple[str, float, str]]:
    """The primary (total compute: FLOPs if estimated, else tokens processed) and the
    thinking-tokens axis, among the columns this table has."""
    present = [a for a in COMPUTE_AXES if a[0] in runs and runs[a[0]].notna().any()]
    total = [a for a in present if a[0] != "thinking_mean"][:1]
    return total + [a for a in present if a[0] == "thinking_mean"]


def accuracy_vs_tokens(runs: pd.DataFrame) -> plt.Figure:
    groups = list(runs.groupby(["model", "task"]))
    axes_spec = _compute_axes(runs)
    fig, grid = plt.subplots(len(axes_spec), max(1, len(groups)),
                             figsize=(4.6 * max(1, len(groups)), 3.4 * len(axes_spec)),
                             squeeze=False)
    for row, (column, scale, xlabel) in enumerate(axes_spec):
        for ax, ((model, task), df) in zip(grid[row], groups, strict=False):
            labels = []
            for (scaler, sweep), part in df.groupby(["scaler", df["sweep"].fillna("")]):
                part = part.sort_values(column)
                label = LABELS[scaler] + (f" ({sweep} sweep)" if sweep
                                          else f" ({part['run'].iloc[0]})")
                ax.errorbar(scale * part[column], 100 * part["accuracy"],
                            yerr=100 * part["accuracy_stderr"].fillna(0), marker="o", ms=4,
                            capsize=3, lw=1.5, color=COLORS[scaler],
                            ls="-" if sweep else "none", label=label)
                if sweep:
                    labels += [(scale * r[column], 100 * r["accuracy"],
                                f"{r['value']:g}" if isinstance(r["value"], float)
                                else str(r["value"]), COLORS[scaler])
                               for _, r in part.iterrows()]
            kind = "primary: total compute" if row == 0 and column != "thinking_mean" else \
                "secondary view: thinking only"
            ax.set_title(f"{task} ({model}); {kind}")
            ax.set_xlabel(xlabel)
            ax.set_ylabel("accuracy (%)")
            ax.set_xlim(left=0)
            if row == len(axes_spec) - 1:
                ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2,
                          frameon=False)
            _label_points(ax, labels)
    fig.suptitle("Accuracy against compute (labels: swept value)", y=1.01)
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


def make_figures(runs_csv: str, questions_csv: str, outputs: Mapping[str, str]) -> None:
    """Write every figure; `outputs` maps "<figure>_<pdf|png>" to a path."""
    runs = pd.read_csv(runs_csv)
    questions = pd.read_csv(questions_csv)
    with plt.rc_context(STYLE):
        figs = {"accuracy_vs_tokens": accuracy_vs_tokens(runs),
                "eig_trajectories": eig_trajectories(runs, questions),
                "cost_breakdown": cost_breakdown(runs)}
        for name, fig in figs.items():
            _save(fig, outputs[f"{name}_pdf"], outputs[f"{name}_png"])
