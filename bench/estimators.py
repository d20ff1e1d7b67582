"""EIG's two posterior estimators against a large-K reference, on real decisions.

    .venv/bin/python bench/estimators.py [--questions 12] [--repeats 4] [--reference 64]

On the real SmolLM2 model (vLLM), demo_arith questions, the default pipeline's EIG preset
(plain format, answers classed as integers, mc_samples 3 of 16 tokens): decision points after
32 and 64 greedy thinking tokens. At each point the same three forecasts y_j are drawn once;
then, in every context (x_t and each x_t + y_j):

- reference: `--reference` (64) answers sampled at T = 1, top_p = 1, classified; entropy of the
  class frequencies (Miller-Madow corrected);
- sampled:   K = 4 (the preset's beam_size) and K = 8 (the default) answers, Miller-Madow;
- scored:    beam_size candidates drawn at x_t, their surface forms teacher-forced in every
  context, pooled by class, the uncovered mass as "other" (eigscale.eig.pooled_posterior).

Each estimator is repeated with `repeats` seeds. Reported per estimator: bias and RMSE of H_t
and of EIG against the reference, their spread across seeds, tokens (answers generated, scoring
prefill not served from the cache) and seconds per decision. Writes
results/bench/estimators.json and prints a table. A measurement, not a test.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

from eigscale.jsonio import write_json_atomic

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

KIND = "integer"
MC, SAMPLE_LENGTH, ANSWER_TOKENS = 3, 16, 16
POINTS = (32, 64)
TAIL = "\n\nTherefore,\nthe final answer is"


def classify(completions) -> list:
    """Each answer's class as the scaler reads it: the grader's answer after the exit (the
    plain format's thinking_end and answer prompt); None for no answer or a cut one."""
    from eigscale.grading import Response, answer_class

    return [None if c.finish_reason == "length" else
            answer_class(Response(TAIL + c.text, "\n\nTherefore,", "the final answer is"), KIND)
            for c in completions]


def class_counts(keys_per_context: list[list]) -> np.ndarray:
    """[contexts, classes] counts, classes grouped by the grader (as the scaler groups them)."""
    from eigscale.grading import class_index

    classes: list = []
    index = [[class_index(classes, key, KIND) for key in keys if key is not None]
             for keys in keys_per_context]
    counts = np.zeros((len(index), len(classes)))
    for row, idx in enumerate(index):
        np.add.at(counts[row], idx, 1)
    return counts


def answers(engine, contexts, k: int, seed: int):
    from eigscale.engines.base import GenerateRequest

    reqs = [GenerateRequest(c, max_tokens=ANSWER_TOKENS, n=k, temperature=1.0, top_p=1.0,
                            seed=seed + i) for i, c in enumerate(contexts)]
    return engine.generate(reqs)


def sampled(engine, contexts, k: int, seed: int) -> tuple[np.ndarray, dict]:
    from eigscale.eig import counts_entropy

    before = engine.counters.snapshot()
    t0 = time.perf_counter()
    outs = answers(engine, contexts, k, seed)
    counts = class_counts([classify(o.completions) for o in outs])
    gradable = counts.sum(-1) > 0  # a context with no gradable answer has no estimate
    h = np.full(len(counts), np.nan)
    h[gradable] = counts_entropy(counts[gradable])
    used = engine.counters.minus(before)
    return h, {"seconds": time.perf_counter() - t0, "generated": used.decode_tokens,
               "prefill": used.prompt_tokens - used.cached_tokens}


def scored(engine, contexts, k: int, seed: int) -> tuple[np.ndarray, dict]:
    from eigscale.eig import entropy, pooled_posterior
    from eigscale.engines.base import ScoreRequest

    before = engine.counters.snapshot()
    t0 = time.perf_counter()
    cands = answers(engine, contexts[:1], k, seed)[0].completions
    eos = engine.eos_token_ids
    forms: dict[tuple, object] = {}
    for c, key in zip(cands, classify(cands), strict=True):
        ids = c.token_ids + tuple(i for i in c.stop_ids if i in eos)
        if ids:
            forms.setdefault(ids, key)
    seen: list = []  # integer classes: the canonical numbers themselves
    form_class = []
    for key in forms.values():
        if key not in seen:
            seen.append(key)
        form_class.append(seen.index(key))
    scores = engine.score([ScoreRequest(c, ids) for c in contexts for ids in forms])
    grid = np.array([s.logprob for s in scores]).reshape(len(contexts), len(forms))
    h = entropy(pooled_posterior(grid, form_class, len(seen)))
    used = engine.counters.minus(before)
    return h, {"seconds": time.perf_counter() - t0, "generated": used.decode_tokens,
               "prefill": used.prompt_tokens - used.cached_tokens}


def decision_contexts(engine, questions: int) -> list[list[tuple[int, ...]]]:
    """Per decision point: [x_t + tail] + [x_t + y_j + tail], the y_j drawn once."""
    from run import prompts  # bench/run.py's demo_arith chat prompts

    from eigscale.engines.base import GenerateRequest

    start = tuple(engine.encode("Let's think step by step.\n"))
    tail = tuple(engine.encode(TAIL))
    base = [tuple(p) + start for p in prompts(engine, questions)]
    trace = engine.generate([GenerateRequest(p, max_tokens=max(POINTS)) for p in base])
    out = []
    for p, t in zip(base, trace, strict=True):
        ids = t.completions[0].token_ids
        for point in POINTS:
            if len(ids) < point:
                continue
            x_t = p + ids[:point]
            mc = engine.generate([GenerateRequest(x_t, max_tokens=SAMPLE_LENGTH, n=MC,
                                                  temperature=1.0, top_p=0.9, seed=7)])[0]
            out.append([x_t + tail] + [x_t + c.token_ids + tail for c in mc.completions])
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--questions", type=int, default=12)
    ap.add_argument("--repeats", type=int, default=4)
    ap.add_argument("--reference", type=int, default=64, help="K of the reference")
    args = ap.parse_args(argv)
    from eigscale.engines import make_engine

    engine = make_engine("vllm", str(REPO / "resources/models/smollm2"), max_model_len=2048)
    decisions = decision_contexts(engine, args.questions)
    estimators = {"sampled K=4": (sampled, 4), "sampled K=8": (sampled, 8),
                  "scored beam=4": (scored, 4), "scored beam=8": (scored, 8)}
    rows: dict[str, dict[str, list]] = {name: {"h": [], "eig": [], "seconds": [],
                                               "generated": [], "prefill": [], "spread_h": [],
                                               "spread_eig": []} for name in estimators}
    for n, contexts in enumerate(decisions):
        engine.reset_cache()
        print(f"decision {n + 1}/{len(decisions)}", flush=True)
        ref, _ = sampled(engine, contexts, args.reference, seed=10_000 + 100 * n)
        ref_eig = ref[0] - ref[1:].mean()
        for name, (fn, k) in estimators.items():
            hs, eigs = [], []
            for r in range(args.repeats):
                engine.reset_cache()
                h, cost = fn(engine, contexts, k, seed=1000 * (r + 1) + 100 * n)
                hs.append(h[0])
                eigs.append(h[0] - h[1:].mean())
                for key in ("seconds", "generated", "prefill"):
                    rows[name][key].append(cost[key])
            rows[name]["h"] += [x - ref[0] for x in hs]
            rows[name]["eig"] += [x - ref_eig for x in eigs]
            rows[name]["spread_h"].append(float(np.std(hs)))
            rows[name]["spread_eig"].append(float(np.std(eigs)))
    table = {}
    for name, r in rows.items():
        table[name] = {
            "H bias": float(np.mean(r["h"])), "H rmse": float(np.sqrt(np.mean(np.square(r["h"])))),
            "H spread": float(np.mean(r["spread_h"])),
            "EIG bias": float(np.mean(r["eig"])),
            "EIG rmse": float(np.sqrt(np.mean(np.square(r["eig"])))),
            "EIG spread": float(np.mean(r["spread_eig"])),
            "answer tokens": float(np.mean(r["generated"])),
            "uncached prefill": float(np.mean(r["prefill"])),
            "seconds": float(np.mean(r["seconds"]))}
    out = REPO / "results" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "estimators.json",
                      {"decisions": len(decisions), "repeats": args.repeats,
                       "reference_K": args.reference, "table": table})
    cols = list(next(iter(table.values())))
    lines = ["| estimator | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    lines += [f"| {name} | " + " | ".join(f"{v:.3f}" if abs(v) < 100 else f"{v:.0f}"
                                          for v in row.values()) + " |"
              for name, row in table.items()]
    print(f"{len(decisions)} decisions x {args.repeats} repeats, reference K={args.reference}, "
          "per decision (1 + 3 contexts):")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
