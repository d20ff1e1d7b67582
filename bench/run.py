"""eigscale benchmarks on this machine: the real SmolLM2 model on vLLM, demo_arith questions.

    ./run bench [--only NAME ...]

Each benchmark writes results/bench/<name>.json; all of them together write
results/bench/table.md (the README's performance table) and print it. Not tests: numbers, no
thresholds asserted. One vLLM engine for the whole process (engine start excluded from timings).

- calls:     engine calls per EIG decision round for 1, 4 and 16 questions (default parameters)
- overhead:  wall time outside engine calls / total wall time, 16 questions
- prefix:    cached / scored prompt tokens in EIG scoring, from vLLM's own counters, against
             the most a KV-block cache can hold; also with 4-shot (multi-turn) prompts
- lockstep:  16 questions in lockstep vs a loop over them one at a time, and vs a loop with one
             engine call per sample and per score (the public fork's pattern); same decisions?
- ceiling:   what vLLM itself gains on this machine from batching 16 questions' requests
- tokens:    tokens by kind per decision and per question (the price of each EIG parameter)
- replay:    a sweep of 5 caps + 5 lambdas by replay vs one live EIG run vs 10 live runs
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

from eigscale.jsonio import write_json_atomic

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "results" / "bench"
os.environ.setdefault("HF_HUB_OFFLINE", "1")

# default EIG parameters but for the thinking format (SmolLM2 has no thinking section of its
# own) and a thinking cap that keeps a benchmark within minutes on 2 CPU cores
EIG = {"thinking_format": "plain", "max_tokens_thinking": 256}
CAPS = [32, 64, 128, 192, 256]
LAMBDAS = [0.01, 0.05, 0.1, 0.3, 1.0]
SWEEP_EIG = {**EIG, "step_tokens": 64}  # decisions every 64 tokens, so lambda matters
FEWSHOT = 4  # examples before each question in the few-shot prefix measurement
PHASES = ("reasoning", "sample", "score", "answer")  # seconds by phase, as the scalers report
Row = tuple[str, str, str]  # one line of the table: measure, target, measured


def prompts(engine, n: int, shots: int = 0) -> list[list[int]]:
    """n demo_arith questions as chat prompts; with `shots`, the first `shots` problems of the
    set (question, answer) come first as earlier turns, as lm-eval's --fewshot_as_multiturn."""
    from eigscale.lmeval.tasks.demo_data import make_docs

    docs = make_docs(n + shots)
    turns = [m for d in docs[:shots] for m in ({"role": "user", "content": d["question"]},
                                               {"role": "assistant", "content": d["answer"]})]
    return [engine.encode(engine.tokenizer.apply_chat_template(
        [*turns, {"role": "user", "content": d["question"]}], add_generation_prompt=True,
        tokenize=False)) for d in docs[shots:]]


def eig_run(engine, n: int, params: dict[str, Any], max_gen_toks: int = 512, shots: int = 0):
    from eigscale.scalers import make_scaler

    engine.reset_cache()  # no prefix left over from an earlier measurement
    t0 = time.perf_counter()
    out = make_scaler("expected_information_gain_reasoning", params).run(
        engine, prompts(engine, n, shots), max_gen_toks)
    return out, time.perf_counter() - t0


class Delegate:
    """An engine seen through a wrapper: everything but what the subclass overrides."""

    def __init__(self, engine) -> None:
        self.inner = engine

    def __getattr__(self, name: str):
        return getattr(self.inner, name)


class RecordScores(Delegate):
    """Keeps the (prefix, suffix) lengths of every score request."""

    def __init__(self, engine) -> None:
        super().__init__(engine)
        self.lengths: list[tuple[int, int]] = []

    def score(self, requests):
        self.lengths += [(len(r.prefix), len(r.suffix)) for r in requests]
        return self.inner.score(requests)


class OneCallPerRequest(Delegate):
    """For comparison only: every sample and every score its own engine call, as the public
    EIG fork did. A request for n seeded samples becomes n calls for one sample with seeds
    seed, seed+1, ... (how vLLM seeds the samples of one request), so the samples are the same."""

    def generate(self, requests):
        from dataclasses import replace

        from eigscale.engines.base import GenerateResult

        out = []
        for r in requests:
            parts = [self.inner.generate([replace(r, n=1, seed=None if r.seed is None
                                                  else r.seed + j)])[0] for j in range(r.n)]
            out.append(GenerateResult(tuple(c for p in parts for c in p.completions),
                                      prompt_tokens=parts[0].prompt_tokens,
                                      cached_tokens=parts[0].cached_tokens))
        return out

    def score(self, requests):
        return [self.inner.score([r])[0] for r in requests]


def decisions_of(out) -> list[list[tuple]]:
    return [[(d.kind, d.thinking_tokens, d.decision, tuple(d.candidates)) for d in r.decisions]
            for r in out.records]


def rounds(out) -> dict[float, int]:
    """Engine calls of each decision round (decisions of one round share its timings)."""
    seen: dict[float, int] = {}
    for r in out.records:
        for d in r.decisions:
            seen[d.seconds.get("total", 0.0)] = d.engine_calls
    return seen


# -- benchmarks -----------------------------------------------------------------------------
def bench_calls(engine, ctx: dict) -> dict:
    rows = []
    for n in (1, 4, 16):
        out, wall = eig_run(engine, n, EIG)
        ctx[f"eig_{n}"] = (out, wall)
        calls = list(rounds(out).values())
        eng = out.summary["engine"]
        rows.append({"questions": n, "decision_rounds": len(calls),
                     "calls_per_round_max": max(calls, default=0),
                     "calls_per_round_mean": sum(calls) / len(calls) if calls else None,
                     "decisions": out.summary["decisions"], "seconds": wall,
                     # the whole run's: engine calls and the vLLM calls they made
                     "engine_calls": eng["calls"], "vllm_calls": eng.get("backend_calls")})
    return {"params": EIG, "rows": rows}


def rows_calls(r: dict) -> list[Row]:
    per = ", ".join(f"{x['questions']} q: {x['calls_per_round_max']} "
                    f"({x['decision_rounds']} rounds)" for x in r["rows"])
    out = [("engine calls per decision round", "constant, <= 4", per)]
    if all(x.get("vllm_calls") is not None for x in r["rows"]):
        whole = ", ".join(f"{x['questions']} q: {x['engine_calls']} / {x['vllm_calls']}"
                          for x in r["rows"])
        out.append(("engine calls / vLLM calls in the whole run", "(reported)", whole))
    return out


def bench_overhead(engine, ctx: dict) -> dict:
    out, wall = ctx.get("eig_16") or eig_run(engine, 16, EIG)
    eng = out.summary["engine"]
    # outside vLLM's own LLM.generate: the scalers, the EIG maths and our engine adapter
    inside = eng["backend_seconds"]
    return {"questions": 16, "wall_seconds": wall, "vllm_seconds": inside,
            "adapter_seconds": eng["seconds"] - inside,
            "overhead_fraction": (wall - inside) / wall,
            "scaler_seconds": out.summary["seconds"]}


def rows_overhead(o: dict) -> list[Row]:
    return [("wall time outside vLLM's generate calls, 16 q", "<= 10%",
             f"{o['overhead_fraction']:.1%} ({o['wall_seconds'] - o['vllm_seconds']:.1f} of "
             f"{o['wall_seconds']:.1f} s; adapter {o['adapter_seconds']:.1f} s)")]


def bench_prefix(engine, ctx: dict) -> dict:
    """Reuse in scoring, zero- and few-shot. A block cache can only hold a prompt's full KV
    blocks: `full_block_fraction` is the share of scored tokens in full blocks of the shared
    prefix (context + answer prompt), the most it could ever serve; the partial last block and
    the candidate are computed by every request."""
    rows = []
    for shots in (0, FEWSHOT):
        rec = RecordScores(engine)
        out, wall = eig_run(rec, 16, EIG, shots=shots)
        t, b = out.summary["tokens"], engine.block_size
        full = sum(b * (p // b) for p, _ in rec.lengths)
        rows.append({"shots": shots, "score_prompt_tokens": t["score_prompt"],
                     "score_cached_tokens": t["score_cached"],
                     "cached_fraction": t["score_cached"] / max(1, t["score_prompt"]),
                     "score_requests": len(rec.lengths),
                     "mean_request_tokens": sum(p + s for p, s in rec.lengths)
                     / max(1, len(rec.lengths)),
                     "full_block_fraction": full / max(1, sum(p + s for p, s in rec.lengths)),
                     "block_size": b, "seconds": wall,
                     "filled_queries": out.summary["engine"].get("filled", 0)})
    return {"questions": 16, "fewshot": FEWSHOT, "rows": rows}


def rows_prefix(r: dict) -> list[Row]:
    out = []
    for p in r["rows"]:
        kind = f"{p['shots']}-shot prompts" if p["shots"] else "zero-shot"
        out.append((f"cached / scored prompt tokens (vLLM counters), {kind}", ">= 90%",
                    f"{p['cached_fraction']:.1%} ({p['score_cached_tokens']} of "
                    f"{p['score_prompt_tokens']}; {p['mean_request_tokens']:.0f} tokens per "
                    f"request, {p['full_block_fraction']:.1%} in full {p['block_size']}-token "
                    "blocks of the shared prefix)"))
    return out


def bench_lockstep(engine, ctx: dict) -> dict:
    """16 questions together vs one at a time (each question's calls still batched), and vs
    one at a time with one engine call per sample and per score; seconds by phase."""
    from eigscale.scalers import make_scaler

    together, t_lock = ctx.get("eig_16") or eig_run(engine, 16, EIG)
    sc = make_scaler("expected_information_gain_reasoning", EIG)
    res: dict[str, Any] = {"questions": 16, "lockstep_seconds": t_lock,
                           "phases": {"lockstep": phases(together.summary["seconds"])}}
    for name, eng in (("loop", engine), ("unbatched", OneCallPerRequest(engine))):
        engine.reset_cache()
        t0 = time.perf_counter()
        alone = [sc.run(eng, [p], 512) for p in prompts(engine, 16)]
        res[f"{name}_seconds"] = time.perf_counter() - t0
        res[f"{name}_speedup"] = res[f"{name}_seconds"] / t_lock
        res["phases"][name] = phases({k: sum(o.summary["seconds"].get(k, 0.0) for o in alone)
                                      for k in PHASES})
        res[f"{name}_same_decisions"] = (decisions_of(together)
                                         == [decisions_of(o)[0] for o in alone])
        res[f"{name}_same_answers"] = together.texts == [o.texts[0] for o in alone]
    return res


def rows_lockstep(lk: dict) -> list[Row]:
    out = []
    for name, what in (("loop", "per-question loop"),
                       ("unbatched", "per-question loop, one call per sample and score")):
        out.append((f"lockstep vs {what}, 16 q", ">= 5x, same decisions",
                    f"{lk[f'{name}_speedup']:.1f}x ({lk[f'{name}_seconds']:.0f} s vs "
                    f"{lk['lockstep_seconds']:.0f} s), same decisions: "
                    f"{lk[f'{name}_same_decisions']}, same answers: {lk[f'{name}_same_answers']}"))
    ph = lk["phases"]
    per = ", ".join(f"{k} {ph['loop'][k]:.0f} s / {ph['lockstep'][k]:.0f} s" for k in PHASES)
    return [*out, ("seconds by phase, loop / lockstep", "(reported)", per)]


def phases(seconds: dict[str, float]) -> dict[str, float]:
    return {k: round(seconds.get(k, 0.0), 2) for k in PHASES}


def bench_ceiling(engine, ctx: dict) -> dict:
    """vLLM alone: the requests of 16 questions in one call vs one question's per call, for
    the shapes of an EIG run (greedy reasoning: 1 sequence per question; MC forecast: 5
    seeded samples of 64 tokens per question). The most lockstep can gain on this machine."""
    from eigscale.engines.base import GenerateRequest

    ps = [tuple(p) for p in prompts(engine, 16)]
    shapes = {"greedy_128": [GenerateRequest(p, 128) for p in ps],
              "sampled_5x64": [GenerateRequest(p, 64, n=5, temperature=1.0, top_p=0.9, seed=i)
                               for i, p in enumerate(ps)]}
    rows = []
    for name, reqs in shapes.items():
        engine.reset_cache()
        t0 = time.perf_counter()
        batched = engine.generate(reqs)
        t_batch = time.perf_counter() - t0
        engine.reset_cache()
        t0 = time.perf_counter()
        alone = [engine.generate([r])[0] for r in reqs]
        t_alone = time.perf_counter() - t0
        tokens = sum(len(c.token_ids) for r in batched for c in r.completions)
        rows.append({"shape": name, "batched_seconds": t_batch, "alone_seconds": t_alone,
                     "tokens": tokens, "speedup": t_alone / t_batch,
                     "same_tokens": [r.completions for r in batched]
                     == [r.completions for r in alone]})
    return {"questions": 16, "rows": rows}


def rows_ceiling(r: dict) -> list[Row]:
    return [(f"vLLM alone, 16 questions' requests in one call vs one per call: {c['shape']}",
             "(ceiling)", f"{c['speedup']:.1f}x ({c['alone_seconds']:.0f} s vs "
             f"{c['batched_seconds']:.0f} s)") for c in r["rows"]]


def bench_tokens(engine, ctx: dict) -> dict:
    out, _ = ctx.get("eig_16") or eig_run(engine, 16, EIG)
    t, s = out.summary["tokens"], out.summary
    per = {"thinking": t["thinking"], "candidate": t["candidate"], "mc": t["mc"],
           "score_prefill": t["score_prompt"] - t["score_cached"], "answer": t["answer"]}
    return {"questions": s["questions"], "decisions": s["decisions"],
            "per_decision": {k: v / max(1, s["decisions"]) for k, v in per.items()
                             if k in ("candidate", "mc", "score_prefill")},
            "per_question": {k: v / s["questions"] for k, v in per.items()},
            "params": EIG}


def rows_tokens(tk: dict) -> list[Row]:
    return [(f"tokens per {per}", "(reported)",
             ", ".join(f"{k} {v:.0f}" for k, v in tk[f"per_{per}"].items()))
            for per in ("decision", "question")]


def bench_replay(engine, ctx: dict) -> dict:
    from eigscale.scalers import make_scaler
    from eigscale.scalers.replay import replay

    ps = prompts(engine, 16)
    bf = [make_scaler("budget_forcing", {"thinking_format": "plain", "max_tokens_thinking": c})
          for c in CAPS]
    eig = [make_scaler("expected_information_gain_reasoning", {**SWEEP_EIG, "lambda_cost": lam})
           for lam in LAMBDAS]
    engine.reset_cache()
    t0 = time.perf_counter()
    replayed = replay(engine, bf, ps, 512) + replay(engine, eig, ps, 512)
    t_replay = time.perf_counter() - t0
    live_seconds, live = {}, []
    for sc in bf + eig:
        engine.reset_cache()
        t1 = time.perf_counter()
        live.append(sc.run(engine, ps, 512))
        live_seconds[f"{sc.name}:{_label(sc)}"] = time.perf_counter() - t1
    t_live = sum(live_seconds.values())
    one = live_seconds["expected_information_gain_reasoning:lambda=0.05"]
    worst = max(v for k, v in live_seconds.items() if k.startswith("expected"))
    equal = all(a.texts == b.texts and decisions_of(a) == decisions_of(b)
                for a, b in zip(live, replayed, strict=True))
    return {"questions": 16, "caps": CAPS, "lambdas": LAMBDAS, "eig_params": SWEEP_EIG,
            "replay_seconds": t_replay, "live_seconds_total": t_live,
            "live_seconds": live_seconds, "one_live_eig_seconds": one,
            "ratio_to_one_live_eig": t_replay / one,
            "ratio_to_costliest_live_eig": t_replay / worst,
            "ratio_separate_runs_to_one_live_eig": t_live / one,
            "speedup_vs_separate_runs": t_live / t_replay, "replay_equals_live": equal}


def rows_replay(r: dict) -> list[Row]:
    return [("5 caps + 5 lambdas by replay / one live EIG run (lambda 0.05)", "<= 1.5x",
             f"{r['ratio_to_one_live_eig']:.2f}x ({r['replay_seconds']:.0f} s vs "
             f"{r['one_live_eig_seconds']:.0f} s); vs the costliest live EIG run "
             f"{r['ratio_to_costliest_live_eig']:.2f}x"),
            ("10 separate live runs / one live EIG run", "(~10x)",
             f"{r['ratio_separate_runs_to_one_live_eig']:.2f}x; replay is "
             f"{r['speedup_vs_separate_runs']:.1f}x faster, equal to live: "
             f"{r['replay_equals_live']}")]


def _label(sc) -> str:
    return (f"cap={sc.params.max_tokens_thinking}" if sc.name == "budget_forcing"
            else f"lambda={sc.params.lambda_cost}")


# name -> (the measurement, its lines of the table), in the table's order
BENCHES = {"calls": (bench_calls, rows_calls), "overhead": (bench_overhead, rows_overhead),
           "prefix": (bench_prefix, rows_prefix), "lockstep": (bench_lockstep, rows_lockstep),
           "ceiling": (bench_ceiling, rows_ceiling), "tokens": (bench_tokens, rows_tokens),
           "replay": (bench_replay, rows_replay)}


def table(results: dict[str, dict]) -> str:
    lines = ["| measure | target | measured |", "|---|---|---|"]
    for name, (_, rows_of) in BENCHES.items():
        if name in results:
            lines += [f"| {m} | {t} | {v} |" for m, t, v in rows_of(results[name])]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="*", choices=list(BENCHES), help="run only these")
    args = ap.parse_args(argv)
    from eigscale.engines import make_engine
    from eigscale.prepare import SMOLLM2, prepare_model

    model = prepare_model(SMOLLM2, REPO / "resources" / "models" / "smollm2")
    engine = make_engine("vllm", str(model), max_model_len=2048)
    OUT.mkdir(parents=True, exist_ok=True)
    machine = {"python": platform.python_version(), "cpus": os.cpu_count(),
               "machine": platform.machine(), "date": time.strftime("%Y-%m-%d %H:%M")}
    ctx: dict[str, Any] = {}
    results = {}
    try:
        for name in args.only or BENCHES:
            t0 = time.perf_counter()
            print(f"[bench] {name} ...", file=sys.stderr, flush=True)
            results[name] = {**BENCHES[name][0](engine, ctx), "machine": machine}
            write_json_atomic(OUT / f"{name}.json", results[name])
            print(f"[bench] {name}: {time.perf_counter() - t0:.0f} s", file=sys.stderr,
                  flush=True)
    finally:
        engine.close()
    # the table covers every benchmark measured so far (a partial rerun keeps the others')
    for name in BENCHES:
        if name not in results and (OUT / f"{name}.json").exists():
            results[name] = json.loads((OUT / f"{name}.json").read_text())
    text = table(results)
    (OUT / "table.md").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
