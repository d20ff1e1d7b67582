"""Piecewise-linear curves through a run's or a cap's points, many at once.

A curve is a row of points (x, y); `sorted_curves` puts each row in the order of x, and the
readers work on every row at once (one row per bootstrap resample): `interpolate_rows` reads a
curve at an x, `reach_rows` finds the least x at which it reaches a y. Points need not be
monotone in y, nor, before sorting, in x: on the total-compute axis a larger cap may cost less
than a smaller one (its forced answer is shorter), and the curve is then read in cost order.
"""

from __future__ import annotations

import numpy as np


def sorted_curves(xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Curves (one per row, [..., points]) with each row's points in the order of x."""
    xs, ys = np.atleast_2d(np.asarray(xs, float)), np.atleast_2d(np.asarray(ys, float))
    order = np.argsort(xs, axis=1, kind="stable")
    return np.take_along_axis(xs, order, axis=1), np.take_along_axis(ys, order, axis=1)


def interpolate_rows(xs: np.ndarray, ys: np.ndarray, x: np.ndarray, clamp: bool = False
                     ) -> np.ndarray:
    """Each row's curve (`sorted_curves`) at its x: NaN outside [min x, max x] (or, with
    clamp, the end point's y there, as np.interp reads it) and for a NaN x."""
    x = np.asarray(x, float)
    out = np.full(x.shape, np.nan)
    if xs.shape[1] == 0:
        return out
    if clamp:
        x = np.clip(x, xs[:, 0], xs[:, -1])
    inside = (x >= xs[:, 0]) & (x <= xs[:, -1])
    if xs.shape[1] == 1:
        return np.where(inside, ys[:, 0], out)
    # the segment [x_i, x_i+1) holding x (the last point itself at the end)
    i = np.clip((xs <= x[:, None]).sum(axis=1) - 1, 0, xs.shape[1] - 2)
    rows = np.arange(len(x))
    x0, x1, y0, y1 = xs[rows, i], xs[rows, i + 1], ys[rows, i], ys[rows, i + 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        along = np.where(x >= x1, y1, np.where(x1 > x0, y0 + (x - x0) * (y1 - y0) / (x1 - x0),
                                               y0))
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


def interpolate(xs: np.ndarray, ys: np.ndarray, x: float, clamp: bool = False) -> float:
    """The curve through (xs, ys) at x (NaN outside [min xs, max xs] unless clamped)."""
    return float(interpolate_rows(*sorted_curves(xs, ys), np.array([x]), clamp)[0])


def reach(xs: np.ndarray, ys: np.ndarray, y: float) -> float:
    """The least x at which the curve through (xs, ys), walked in x, first reaches y (NaN if
    it never does)."""
    return float(reach_rows(*sorted_curves(xs, ys), np.array([y]))[0])
