"""The engine contract: the only two things a scaler asks of a language model.

An engine takes *batches* of token-id requests and answers them in one call; the scalers build
one batch per purpose per decision round, so the number of calls never grows with the number of
questions. Both methods return results in request order.

Token ids in, token ids out: text is decoded only for stop-string detection and for the final
response, so what the engines see is exactly what the scalers counted.
"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np

from eigscale.errors import EigscaleError

# "stop": EOS or a stop string ended the sample; "length": it reached max_tokens
FinishReason = Literal["stop", "length"]


def entropy_bits(logprobs: Sequence[float]) -> float:
    """-sum p log2 p of a distribution given as natural log-probs (all of its support)."""
    lp = np.asarray(logprobs, dtype=np.float64)
    lp = lp[np.isfinite(lp)]
    return float(-(np.exp(lp) * lp).sum() / math.log(2))


class EngineFailure(EigscaleError, RuntimeError):
    """An engine call that no single question can absorb failed (main reasoning or forced
    answers): the engine is taken as dead and the run stops. Raised by the scalers, with the
    phase and the number of questions in the message and the engine's exception as cause."""


@dataclass(frozen=True)
class GenerateRequest:
    """Continue `prompt` with `n` samples of at most `max_tokens` new tokens.

    temperature 0 is greedy decoding (then `n` must be 1 and `seed` is ignored). Generation of a
    sample ends at the model's end-of-sequence token, at any string in `stop`, or at max_tokens.
    With a seed, the j-th sample is reproducible on its own: it does not depend on the other
    requests in the batch.
    """

    prompt: tuple[int, ...]
    max_tokens: int
    n: int = 1
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()
    score_later: bool = False
    """The samples will be scored after this very prompt in the same decision round (EIG's
    scored estimator): an engine that cannot give log-probs for cached tokens keeps theirs.
    It changes nothing sampled."""
    token_logprobs: bool = False
    """Return each sampled token's raw (model) log-probability in `Completion.logprobs`
    (DEER's confidence). It changes nothing sampled."""
    entropy: bool = False
    """Return the entropy (bits) of the first generated token's distribution, the model's raw
    one over the whole vocabulary, in `Completion.entropy` (EAT's signal; ask for max_tokens
    1). It changes nothing sampled."""
    trace: str | None = None
    """The uid of the question's trace (eigscale.scalers.base.question_uid) when this request
    continues its main reasoning; None for every other request (probes, candidates, answers).
    It changes nothing sampled: an engine ignores it; a stand-in that serves stored traces
    (eigscale.engines.traces) keys them by it."""


@dataclass(frozen=True)
class Completion:
    """One sample. `token_ids` and `text` exclude the end-of-sequence token and any stop string
    (and the tokens that formed it). finish_reason: "stop" (EOS or a stop string) or "length".
    raw_tokens: tokens generated up to the one that completed the stop (EOS or the stop
    string's last token); len(token_ids) after "length". A call with a smaller max_tokens sees
    the stop only if it allows raw_tokens (replay needs this to cut a trace exactly)."""

    token_ids: tuple[int, ...]
    text: str
    finish_reason: FinishReason
    raw_tokens: int = 0
    stop_ids: tuple[int, ...] = ()
    """The tokens cut off after `token_ids` up to raw_tokens: those that form the stop string
    (a delimiter of several tokens), or the EOS token."""
    logprobs: tuple[float, ...] = ()
    """With `GenerateRequest.token_logprobs`: log P(token) of each of `token_ids` under the
    model's raw distribution (before temperature and top-p); otherwise empty."""
    stop_logprobs: tuple[float, ...] = ()
    """With `GenerateRequest.token_logprobs`: log P(token) of each of `stop_ids`, as
    `logprobs` (DEER's reference averages the token that closes its trial answer in)."""
    entropy: float | None = None
    """With `GenerateRequest.entropy`: -sum p log2 p of the first token's distribution."""


@dataclass(frozen=True)
class GenerateResult:
    """The samples of one request; its prompt tokens (as the engine counts them) and those
    served from the cache; and the tokens the engine decoded for it, every sample, EOS and
    stop tokens included. The engine's counters are the sums of these over its requests."""

    completions: tuple[Completion, ...]
    prompt_tokens: int
    cached_tokens: int
    decoded_tokens: int = 0


@dataclass(frozen=True)
class ScoreRequest:
    """Teacher-forced log P(suffix | prefix): the sum of the suffix tokens' log-probabilities."""

    prefix: tuple[int, ...]
    suffix: tuple[int, ...]


@dataclass(frozen=True)
class ScoreResult:
    logprob: float
    prompt_tokens: int
    cached_tokens: int


@dataclass
class EngineCounters:
    """Cumulative work done by an engine. Read before and after a call to attribute costs."""

    calls: int = 0
    generate_calls: int = 0
    score_calls: int = 0
    prompt_tokens: int = 0
    cached_tokens: int = 0
    decode_tokens: int = 0
    seconds: float = 0.0
    backend_seconds: float = 0.0  # inside the backend's own calls (vLLM's LLM.generate); the
    # rest of `seconds` is the adapter's Python (request building, trimming). vLLM only.
    backend_calls: int = 0  # the backend's own calls (vLLM: a score may make two, see filled)
    filled: int = 0  # next-token queries for suffix log-probs a cache hit left out (vLLM)

    def snapshot(self) -> EngineCounters:
        return EngineCounters(**vars(self))

    def minus(self, before: EngineCounters) -> EngineCounters:
        return EngineCounters(**{k: v - getattr(before, k) for k, v in vars(self).items()})

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))


class Engine(ABC):
    """A language model behind batched `generate` and `score`.

    Implementations set `tokenizer` (a transformers tokenizer), `eos_token_ids` and
    `max_model_len` (prompt + generated tokens one sequence may hold) in their constructor and
    update `counters` in every call.
    """

    name: str = "engine"
    tokenizer: Any
    eos_token_ids: frozenset[int]
    max_model_len: int

    def __init__(self) -> None:
        self.counters = EngineCounters()

    @classmethod
    def load(cls, model_path: str, **kwargs: Any) -> Engine:
        """Start the engine on a prepared model folder (eigscale-prepare-model's); kwargs are
        the engine's own settings (dtype, max_model_len, tensor_parallel_size, ...). Every
        engine of the registry (eigscale.engines.ENGINES) has one; a stand-in need not."""
        raise NotImplementedError(f"{cls.__name__} cannot load a model folder")

    @abstractmethod
    def generate(self, requests: Sequence[GenerateRequest]) -> list[GenerateResult]:
        """Answer every request in one batched pass; one result per request, in order."""

    @abstractmethod
    def score(self, requests: Sequence[ScoreRequest]) -> list[ScoreResult]:
        """Teacher-forced suffix log-probs in one batched pass. Requests that share a prefix
        must reuse its computation (KV cache), not recompute it."""

    def reset_cache(self) -> None:  # noqa: B027 (a no-op unless the engine caches across calls)
        """Forget cached prefixes (benchmarks start each measurement from a cold cache)."""

    # -- shared helpers -----------------------------------------------------------------
    def encode(self, text: str) -> list[int]:
        """Token ids of `text` with no special tokens added (BOS etc. belong to prompts)."""
        return list(self.tokenizer.encode(text, add_special_tokens=False)) if text else []

    def decode(self, ids: Sequence[int]) -> str:
        """Text of `ids`, special tokens kept (s1's delimiters are special tokens)."""
        return self.tokenizer.decode(list(ids), skip_special_tokens=False)

    def trim(self, ids: Sequence[int], stop: Sequence[str], ended: bool,
             logprobs: Sequence[float] = ()) -> Completion:
        """Cut a raw sample at EOS or at the first stop string, the same way on every engine.

        `ended` is the engine's own verdict that the sample stopped (EOS or stop string) rather
        than running out of max_tokens; `logprobs` (if any) are the raw tokens' and are cut
        with them (the stop's own go to `stop_logprobs`).
        """
        c = self._trim(list(ids), stop, ended)
        if not logprobs:
            return c
        return replace(c, logprobs=tuple(logprobs[:len(c.token_ids)]),
                       stop_logprobs=tuple(logprobs[len(c.token_ids):c.raw_tokens]))

    def _trim(self, ids: list[int], stop: Sequence[str], ended: bool) -> Completion:
        # whichever comes first, EOS or a stop string (an engine stops at either; a stored
        # trace served again may hold both)
        eos = next((i for i, t in enumerate(ids) if t in self.eos_token_ids), None)
        body = ids if eos is None else ids[:eos]
        text = self.decode(body)
        hits = [text.find(s) for s in stop if s and s in text]
        if hits:
            ids = body
            cut = min(hits)
            # keep the longest token prefix whose text ends before the stop string starts
            k = len(ids)
            while k > 0 and len(self.decode(ids[:k])) > cut:
                k -= 1
            raw = k + 1  # and the shortest prefix whose text holds a whole stop string
            while raw < len(ids) and not any(s and s in self.decode(ids[:raw]) for s in stop):
                raw += 1
            return Completion(tuple(ids[:k]), self.decode(ids[:k]), "stop", raw,
                              tuple(ids[k:raw]))
        if eos is not None:
            return Completion(tuple(body), text, "stop", eos + 1, (ids[eos],))
        return Completion(tuple(ids), text, "stop" if ended else "length", len(ids))

    @contextmanager
    def _timed(self, kind: str):
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.counters.calls += 1
            if kind == "generate":
                self.counters.generate_calls += 1
            else:
                self.counters.score_calls += 1
            self.counters.seconds += time.perf_counter() - t0

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the model (GPU memory, worker processes)."""
