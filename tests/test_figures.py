"""The figures' own logic, on small hand-made tables (the workflow tests draw them for real)."""

from __future__ import annotations

import pandas as pd

from eigscale.pipeline.figures import FRONTIERS, accuracy_vs_tokens, pareto


def _run(scaler: str, sweep: str, value: float, tokens: float, acc: float) -> dict:
    """An operating point (eigscale.pipeline.analysis) costing `tokens` on both axes."""
    return {"model": "m", "task": "t", "scaler": scaler, "sweep": sweep, "run": f"{sweep}_{value}",
            "value": value, "thinking": tokens, "compute": tokens, "accuracy": acc,
            "accuracy_lo": acc - 0.1, "accuracy_hi": acc + 0.1,
            "compute_unit": "processed_tokens"}


def test_sweep_labels_of_nearby_points_do_not_overlap():
    # the default pipeline's case: a cap and a lambda at about the same cost and accuracy
    runs = pd.DataFrame([
        _run("budget_forcing", "bf", 32.0, 30.0, 0.25), _run("budget_forcing", "bf", 64.0, 55, 0.3),
        _run("expected_information_gain_reasoning", "eig", 0.5, 30.5, 0.25),
        _run("expected_information_gain_reasoning", "eig", 0.1, 31.0, 0.25),
        _run("expected_information_gain_reasoning", "eig", 0.02, 31.0, 0.26)])
    fig = accuracy_vs_tokens(runs)
    renderer = fig.canvas.get_renderer()
    notes = fig.axes[0].texts
    assert sorted(n.get_text() for n in notes) == ["0.02", "0.1", "0.5", "32", "64"]
    boxes = [n.get_window_extent(renderer) for n in notes]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not a.overlaps(b)


def test_pareto_points_are_those_nothing_beats():
    x = pd.Series([10, 20, 30, 25, 40])
    y = pd.Series([0.2, 0.4, 0.4, 0.5, 0.5])
    # 30 is beaten by 20 (cheaper, as good), 40 by 25
    assert pareto(x, y).tolist() == [True, True, False, True, False]


FRONTIERS_LABELS = [label for label, _, _ in FRONTIERS.values()]


def test_frontiers_are_drawn_dashed_on_both_axes():
    runs = pd.DataFrame([_run("budget_forcing", "bf", 32.0, 30.0, 0.25),
                         _run("budget_forcing", "bf", 64.0, 55, 0.3)])
    # each axis its own curves: the compute axis' cost 10 more than the thinking axis'
    curves = pd.DataFrame([{"model": "m", "task": "t", "curve": c, "axis": axis,
                            "x": b + shift, "accuracy": a}
                           for c in ("fixed", "oracle_sc", "oracle_fc")
                           for axis, shift in (("compute", 10), ("thinking", 0))
                           for b, a in ((0, 0.1), (64, 0.5))])
    fig = accuracy_vs_tokens(runs, curves)
    for ax, shift in zip(fig.axes, (10, 0), strict=True):
        dashed = {line.get_label(): line for line in ax.lines if line.get_linestyle() != "-"}
        assert set(FRONTIERS_LABELS) <= set(dashed)
        assert all(dashed[name].get_xdata()[0] == shift for name in FRONTIERS_LABELS)
