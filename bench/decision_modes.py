"""Operating characteristic of EIG's decision modes: P(continue) against the true EIG.

    .venv/bin/python bench/decision_modes.py [--trials 2000] [--lam 0.05] [--runs results/runs]

EIG's decision is a test of "EIG > lambda" on a noisy estimate: K answers drawn in each
context (x_t and M forecasts x_t + y_j), classes counted, Miller-Madow entropies
(eigscale.eig.counts_entropy), EIG = H_t - mean_j H_j. This bench draws those samples from
answer distributions whose EIG is known and reports, per decision mode, how often the rule
continues, and the side tokens a decision costs. No model: the sampling is the estimator's
own (numpy), the distributions are

- synthetic: an answer posterior p_t now; each forecast resolves the answer (a point mass on a
  class drawn from p_t: the posterior is a martingale) with probability w, else leaves p_t.
  True EIG = w H(p_t), set to 0, lambda, 2 lambda, 0.19 and 0.69 nats over three shapes of p_t;
- real: the decision points of a default pipeline run (results/runs/*/*/eig_*/decisions.jsonl,
  if present), their recorded class counts per context taken as the true distributions (the
  forecasts drawn from the recorded ones), true EIG the plug-in value of those.

Modes (each at the specification's K and M unless named):
- point: continue iff EIG > lambda (the specification's rule, the default);
- point_2x: the same with 2K answers and 2M forecasts (about 3.7x the side tokens);
- interval: continue iff EIG - z SE > lambda (SE: eigscale.eig.score_standard_error);
- sequential: if |EIG - lambda| <= z SE, draw a second batch (K more answers in each context,
  M more forecasts with their answers), pool, decide by the point rule; at most one extra batch.
Side tokens per decision: K (M + 1) answers of `--answer-tokens` and M forecasts of
`--sample-length`, relative to the point mode's. Writes results/bench/decision_modes.json and
prints the table. A measurement, not a test.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from eigscale.eig import counts_entropy, entropy, score_standard_error
from eigscale.jsonio import write_json_atomic

REPO = Path(__file__).resolve().parents[1]
SHAPES = {"two answers 50/50": [0.5, 0.5], "top answer 0.9": [0.9, 0.05, 0.05],
          "four answers": [0.4, 0.3, 0.2, 0.1]}


class Truth:
    """A decision point's true answer distributions: p_now, and how a forecast moves it."""

    def __init__(self, p_now: np.ndarray, forecasts: list[np.ndarray] | None = None,
                 resolve: float = 0.0) -> None:
        self.p_now, self.forecasts, self.resolve = np.asarray(p_now, float), forecasts, resolve

    @property
    def eig(self) -> float:
        if self.forecasts is not None:
            return float(entropy(self.p_now) - np.mean([entropy(f) for f in self.forecasts]))
        return float(self.resolve * entropy(self.p_now))

    def forecast(self, rng: np.random.Generator) -> np.ndarray:
        if self.forecasts is not None:
            return self.forecasts[rng.integers(len(self.forecasts))]
        if rng.random() < self.resolve:
            return np.eye(len(self.p_now))[rng.choice(len(self.p_now), p=self.p_now)]
        return self.p_now


def draw(truth: Truth, k: int, m: int, rng: np.random.Generator) -> np.ndarray:
    """[1 + m, classes] answer counts: k answers now, k after each of m forecasts."""
    rows = [rng.multinomial(k, truth.p_now)]
    rows += [rng.multinomial(k, truth.forecast(rng)) for _ in range(m)]
    return np.asarray(rows, dtype=float)


def estimate(counts: np.ndarray, rng: np.random.Generator) -> tuple[float, float]:
    """(EIG, its standard error) from [1 + M, classes] counts, as the scaler computes them."""
    h = counts_entropy(counts)
    return float(h[0] - h[1:].mean()), score_standard_error(counts[0], h[1:], rng)


def cost(k: int, m: int, args) -> float:
    """Side tokens of one decision with k answers per context and m forecasts."""
    return k * (m + 1) * args.answer_tokens + m * args.sample_length


def decide(mode: str, truth: Truth, args, rng: np.random.Generator) -> tuple[bool, float]:
    """(continue?, side tokens) of one decision."""
    k, m, lam, z = args.k, args.m, args.lam, args.z
    if mode == "point_2x":
        eig, _ = estimate(draw(truth, 2 * k, 2 * m, rng), rng)
        return eig > lam, cost(2 * k, 2 * m, args)
    counts = draw(truth, k, m, rng)
    eig, se = estimate(counts, rng)
    if mode == "point":
        return eig > lam, cost(k, m, args)
    if mode == "interval":
        return eig - z * se > lam, cost(k, m, args)
    if abs(eig - lam) > z * se:  # sequential: the first batch settles it
        return eig > lam, cost(k, m, args)
    more = draw(truth, k, m, rng)  # now: 2k answers; forecasts: 2m of k answers each
    both = np.vstack([counts[:1] + more[:1], counts[1:], more[1:]])
    eig, _ = estimate(both, rng)
    return eig > lam, 2 * cost(k, m, args)


def real_points(runs: Path) -> list[Truth]:
    out = []
    for f in sorted(runs.glob("*/*/eig_*/decisions.jsonl")):
        for line in f.read_text().splitlines():
            for d in json.loads(line)["decisions"]:
                counts = np.asarray((d.get("scores") or {}).get("counts") or [], dtype=float)
                if counts.ndim != 2 or counts.shape[0] < 2 or (counts.sum(1) == 0).any():
                    continue
                probs = counts / counts.sum(1, keepdims=True)
                out.append(Truth(probs[0], list(probs[1:])))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=2000)
    ap.add_argument("--lam", type=float, default=0.05)
    ap.add_argument("--k", type=int, default=8, help="answers per context (beam_size)")
    ap.add_argument("--m", type=int, default=5, help="forecasts (mc_samples)")
    ap.add_argument("--z", type=float, default=1.0)
    ap.add_argument("--answer-tokens", type=int, default=16)
    ap.add_argument("--sample-length", type=int, default=64)
    ap.add_argument("--runs", type=Path, default=REPO / "results" / "runs")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    lam = args.lam
    batch = args.k * (args.m + 1) * args.answer_tokens + args.m * args.sample_length
    modes = ("point", "point_2x", "interval", "sequential")
    rows = []
    for target in (0.0, lam, 2 * lam, 0.19, 0.69):
        for shape, p in SHAPES.items():
            h = float(entropy(np.asarray(p)))
            if target > h:
                continue  # this posterior cannot lose that much entropy
            truth = Truth(p, resolve=target / h)
            rows.append(run_modes(f"{shape}", truth, modes, args, rng, batch))
    real = real_points(args.runs)
    for truth in real:
        rows.append(run_modes("real decision point", truth, modes, args, rng, batch,
                              trials=max(50, args.trials // 10)))
    summary = summarise(rows, modes, lam)
    sizes = search_sizes(args, rng, batch)
    (REPO / "results" / "bench").mkdir(parents=True, exist_ok=True)
    write_json_atomic(REPO / "results" / "bench" / "decision_modes.json",
                      {"args": {k: str(v) for k, v in vars(args).items()},
                       "side_tokens_per_point_decision": batch, "rows": rows,
                       "summary": summary, "real_points": len(real), "sizes": sizes})
    print(table(summary, modes, lam, args, batch, len(real)))
    print(sizes_table(sizes, lam))
    return 0


def run_modes(label: str, truth: Truth, modes: tuple[str, ...], args, rng, batch: int,
              trials: int | None = None) -> dict:
    trials = trials or args.trials
    row = {"distribution": label, "true_eig": truth.eig}
    for mode in modes:
        go, spent = zip(*(decide(mode, truth, args, rng) for _ in range(trials)), strict=True)
        row[mode] = {"p_continue": float(np.mean(go)),
                     "side_tokens": float(np.mean(spent)) / batch}
    return row


def search_sizes(args, rng: np.random.Generator, batch: int) -> list[dict]:
    """The point rule at larger K and M, on the synthetic points: what it would take."""
    out = []
    for k, m in ((8, 5), (16, 5), (16, 10), (32, 5), (32, 10), (64, 10)):
        sized = argparse.Namespace(**{**vars(args), "k": k, "m": m})
        p0, p19 = [], []
        for target in (0.0, 0.19, 0.69):
            for p in SHAPES.values():
                h = float(entropy(np.asarray(p)))
                if target > h:
                    continue
                truth = Truth(p, resolve=target / h)
                go = [decide("point", truth, sized, rng)[0]
                      for _ in range(max(200, args.trials // 4))]
                (p0 if target == 0 else p19).append(float(np.mean(go)))
        out.append({"k": k, "m": m, "p_continue_eig0": float(np.mean(p0)),
                    "p_continue_eig_ge_019": float(np.mean(p19)),
                    "side_tokens": cost(k, m, args) / batch})
    return out


def sizes_table(sizes: list[dict], lam: float) -> str:
    lines = [f"The point rule at lambda = {lam:g} with more answers (K) and forecasts (M), "
             "synthetic points:", "",
             "| K | M | P(continue), EIG = 0 | P(continue), EIG >= 0.19 | side tokens |",
             "|---|---|---|---|---|"]
    lines += [f"| {s['k']} | {s['m']} | {s['p_continue_eig0']:.2f} | "
              f"{s['p_continue_eig_ge_019']:.2f} | {s['side_tokens']:.1f}x |" for s in sizes]
    return "\n".join(lines)


def summarise(rows: list[dict], modes: tuple[str, ...], lam: float) -> list[dict]:
    """P(continue) and side tokens per mode, by true-EIG band (synthetic rows by their target;
    real points by where their plug-in EIG falls)."""
    bands = [("EIG = 0", lambda e: abs(e) < 1e-9),
             (f"0 < EIG <= {lam:g}", lambda e: 0 < e <= lam + 1e-9),
             (f"{lam:g} < EIG < 0.19", lambda e: lam + 1e-9 < e < 0.19 - 1e-9),
             ("EIG >= 0.19", lambda e: e >= 0.19 - 1e-9)]
    out = []
    for source in ("synthetic", "real"):
        for name, member in bands:
            sel = [r for r in rows if member(r["true_eig"])
                   and (r["distribution"] == "real decision point") == (source == "real")]
            if not sel:
                continue
            out.append({"source": source, "band": name, "points": len(sel),
                        **{m: {"p_continue": float(np.mean([r[m]["p_continue"] for r in sel])),
                               "side_tokens": float(np.mean([r[m]["side_tokens"] for r in sel]))}
                           for m in modes}})
    return out


def table(summary: list[dict], modes: tuple[str, ...], lam: float, args, batch: int,
          real: int) -> str:
    head = "| source | true EIG | points | " + " | ".join(
        f"{m}: P(continue), side tokens" for m in modes) + " |"
    lines = [f"Decision modes at lambda = {lam:g}, K = {args.k}, M = {args.m}, z = {args.z:g} "
             f"(side tokens per point decision: {batch}; {real} real decision points)", "",
             head, "|" + "---|" * (3 + len(modes))]
    for s in summary:
        cells = [f"{s[m]['p_continue']:.2f}, {s[m]['side_tokens']:.2f}x" for m in modes]
        lines.append(f"| {s['source']} | {s['band']} | {s['points']} | " + " | ".join(cells)
                     + " |")
    lines.append("")
    lines.append("Goal: P(continue | EIG = 0) <= 0.25 and P(continue | EIG >= 0.19) >= 0.75 at "
                 "<= 2x the point mode's side tokens.")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
