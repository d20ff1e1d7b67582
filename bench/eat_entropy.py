"""EAT's entropy on vLLM against the exact one: the gap, and what a top-k bound would give.

    ./run bench eat-entropy [--questions 12]

EAT (eigscale.scalers.eat) runs on the demo questions with the transformers engine, which
computes the entropy after the end-of-thinking marker from the model's logits in float64 (the
exact value); every check's request is then asked of vLLM, whose entropy comes from its
full-vocabulary log-probs (logprobs=-1), and of vLLM with the top 20 log-probs only, the
usual cap, bounded by where the remaining mass could lie (all on one token: the lower bound;
spread over the rest of the vocabulary: the upper). Reported: checks, the largest and mean
|vLLM - exact| in bits, the top-20 bound's mean width and how often the exact value lies in
it, and vLLM's seconds per request both ways. Results: results/bench/eat_entropy.json, .md.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from eigscale.jsonio import write_json_atomic

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "results" / "bench"
MODEL = REPO / "resources" / "models" / "smollm2"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
EAT_DEMO = {"thinking_format": "plain", "timescale": 0.5, "warmup": 1, "delta": 0.05,
            "max_tokens_thinking": 128}
TOP_K = 20


def top_k_bounds(top: list[float], vocab: int) -> tuple[float, float]:
    """(lower, upper) entropy in bits from the top-k log-probs: the rest of the mass on one
    token, or spread evenly over the vocabulary's other tokens."""
    p = np.exp(np.asarray(top, dtype=np.float64))
    known = float(-(p * np.log(p)).sum())
    rest = max(0.0, 1.0 - float(p.sum()))
    if rest <= 0:
        return known / math.log(2), known / math.log(2)
    low = known - rest * math.log(rest)
    high = known - rest * math.log(rest / (vocab - len(top)))
    return low / math.log(2), high / math.log(2)


def checks(questions: int) -> list[Any]:
    """Every EAT check's request of a demo run on the transformers engine."""
    from eigscale.engines.hf import HFEngine
    from eigscale.lmeval.tasks.demo_data import make_docs
    from eigscale.scalers import make_scaler

    hf = HFEngine.load(str(MODEL))
    asked: list[Any] = []
    generate = hf.generate

    def keep(requests):  # a recorder around the real engine's own call
        asked.extend(r for r in requests if r.entropy)
        return generate(requests)

    hf.generate = keep
    prompts = [hf.encode(hf.tokenizer.apply_chat_template(
        [{"role": "user", "content": d["question"]}], add_generation_prompt=True,
        tokenize=False)) for d in make_docs(questions)]
    make_scaler("eat", EAT_DEMO).run(hf, prompts, 320)
    hf.generate = generate
    exact = [o.completions[0].entropy for o in hf.generate(asked)]
    hf.close()
    return list(zip(asked, exact, strict=True))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--questions", type=int, default=12)
    args = ap.parse_args(argv)
    from vllm import SamplingParams

    from eigscale.engines import make_engine
    from eigscale.prepare import SMOLLM2, prepare_model

    prepare_model(SMOLLM2, MODEL)
    pairs = checks(args.questions)
    reqs, exact = [r for r, _ in pairs], np.array([x for _, x in pairs])
    engine = make_engine("vllm", str(MODEL), max_model_len=2048)
    try:
        t0 = time.perf_counter()
        served = np.array([o.completions[0].entropy for o in engine.generate(reqs)])
        full_s = (time.perf_counter() - t0) / len(reqs)
        vocab = len(engine.tokenizer)
        sp = SamplingParams(max_tokens=1, temperature=0.0, logprobs=TOP_K, detokenize=False)
        t0 = time.perf_counter()
        outs = engine.llm.generate([{"prompt_token_ids": list(r.prompt)} for r in reqs],
                                   [sp] * len(reqs), use_tqdm=False)
        top_s = (time.perf_counter() - t0) / len(reqs)
    finally:
        engine.close()
    bounds = np.array([top_k_bounds(sorted((lp.logprob for lp in o.outputs[0].logprobs[0]
                                            .values()), reverse=True)[:TOP_K], vocab)
                       for o in outs])
    gap = np.abs(served - exact)
    row = {"checks": len(reqs), "vocab": vocab, "max_gap_bits": float(gap.max()),
           "mean_gap_bits": float(gap.mean()), "mean_exact_bits": float(exact.mean()),
           "top_k": TOP_K, "mean_bound_width_bits": float((bounds[:, 1] - bounds[:, 0]).mean()),
           "exact_inside_bound": float(((bounds[:, 0] <= exact + 1e-6)
                                        & (exact <= bounds[:, 1] + 1e-6)).mean()),
           "mean_lower_bound_gap_bits": float((exact - bounds[:, 0]).mean()),
           "full_vocab_seconds_per_request": full_s, "top_k_seconds_per_request": top_s}
    OUT.mkdir(parents=True, exist_ok=True)
    write_json_atomic(OUT / "eat_entropy.json", row)
    text = "\n".join([
        "| checks | vocabulary | mean exact H (bits) | max / mean vLLM gap (bits) | top-20 bound: "
        "mean width, exact inside, mean lower-bound gap (bits) | vLLM s/request: full / top-20 |",
        "|---|---|---|---|---|---|",
        f"| {row['checks']} | {vocab} | {row['mean_exact_bits']:.3f} | "
        f"{row['max_gap_bits']:.2e} / {row['mean_gap_bits']:.2e} | "
        f"{row['mean_bound_width_bits']:.2f}, {row['exact_inside_bound']:.0%}, "
        f"{row['mean_lower_bound_gap_bits']:.2f} | {full_s:.3f} / {top_s:.3f} |"])
    (OUT / "eat_entropy.md").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
