"""The figures' own logic, on small hand-made tables (the workflow tests draw them for real)."""

from __future__ import annotations

import pandas as pd

from eigscale.pipeline.figures import accuracy_vs_tokens


def _run(scaler: str, sweep: str, value: float, tokens: float, acc: float) -> dict:
    return {"model": "m", "task": "t", "scaler": scaler, "sweep": sweep, "run": f"{sweep}_{value}",
            "value": value, "thinking_mean": tokens, "accuracy": acc, "accuracy_stderr": 0.1}


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
