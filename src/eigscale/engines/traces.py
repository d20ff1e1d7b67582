"""Stored traces: record the main reasoning an engine samples, and serve it back token for token.

A sampled trace is one draw: a second run with other round boundaries (another rule, another
step) would draw another trace from the same seeds. To compare rules on the *same* sampled
trace, the trace is recorded once (`TraceRecorder`) and served to any later run
(`TraceServer`): every request that continues a question's main reasoning
(`GenerateRequest.trace`, the trace's uid) is answered from the stored tokens, cut at the
request's own max_tokens and stop strings exactly as the engine cuts a sample (`Engine.trim`);
every other request (probes, candidates, scores, forced answers) goes to the real engine.

`TraceServer` is a stand-in for the engine's main reasoning, named as such: it computes nothing
for the tokens it serves. It charges them as the engine would with a prefix cache: the
request's prompt tokens, those of the trace already served counted as cached, and the tokens
served (up to the stop, EOS included) as decoded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from eigscale.engines.base import (
    Engine,
    GenerateRequest,
    GenerateResult,
    ScoreRequest,
    ScoreResult,
)
from eigscale.errors import EigscaleError


class TraceError(EigscaleError, ValueError):
    """A request asked a stored trace for what it does not hold."""


@dataclass(frozen=True)
class Round:
    """One reasoning request of a trace as the engine answered it: its prompt, every token
    generated after it (stop tokens and EOS included), and whether the sample stopped (EOS or
    a stop string: nothing follows) rather than running out of max_tokens."""

    prompt: tuple[int, ...]
    tokens: tuple[int, ...]
    ended: bool


@dataclass(frozen=True)
class StoredTrace:
    """A question's main reasoning, round by round. Where a rule inserted text (an extension
    after a natural end), the next round's prompt leaves the tokens sampled before it: the
    stored trace is the tree of what was sampled after each prompt."""

    rounds: tuple[Round, ...]

    def holds(self, prompt: tuple[int, ...]) -> bool:
        """Whether some round continues `prompt` (it lies on the trace)."""
        return any(_inside(r, prompt) for r in self.rounds)

    def continuation(self, prompt: tuple[int, ...], want: int) -> tuple[tuple[int, ...], bool]:
        """The tokens sampled after `prompt` (at least `want` of them where the trace holds
        them) and whether the sample stopped there; TraceError where it holds none."""
        out: list[int] = []
        at = tuple(prompt)
        while len(out) < want:
            # the round `at` falls in: its prompt is a prefix of `at`, `at` of its whole text
            inside = [r for r in self.rounds if _inside(r, at)]
            if not inside:
                break
            r = max(inside, key=lambda r: len(r.prompt))  # the latest round at `at`
            more = (r.prompt + r.tokens)[len(at):]
            out += more
            at += more
            if r.ended:
                return tuple(out), True
            if not more:  # the trace holds nothing past `at`
                break
        if not out and want:
            raise TraceError(f"no stored round continues a prompt of {len(prompt)} tokens")
        return tuple(out), False


def _inside(r: Round, at: tuple[int, ...]) -> bool:
    """`at` lies in round r: r's prompt is a prefix of it, and it of r's whole text."""
    return (len(r.prompt) <= len(at) <= len(r.prompt) + len(r.tokens)
            and at[:len(r.prompt)] == r.prompt and (r.prompt + r.tokens)[:len(at)] == at)


class _Wrapper(Engine):
    """An engine in front of `engine`: same tokenizer and limits; its counters are the
    wrapped engine's work for it plus its own."""

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self.engine = engine
        self.name = f"{type(self).__name__}({engine.name})"
        self.tokenizer = engine.tokenizer
        self.eos_token_ids = engine.eos_token_ids
        self.max_model_len = engine.max_model_len

    def _inner(self, call, requests):  # the wrapped engine's call, its counters added to ours
        before = self.engine.counters.snapshot()
        try:
            return call(requests) if requests else []
        finally:
            for k, v in self.engine.counters.minus(before).to_dict().items():
                setattr(self.counters, k, getattr(self.counters, k) + v)

    def score(self, requests: Sequence[ScoreRequest]) -> list[ScoreResult]:
        return self._inner(self.engine.score, list(requests))

    def reset_cache(self) -> None:
        self.engine.reset_cache()


class TraceRecorder(_Wrapper):
    """Passes every request to `engine` and keeps, per trace uid, the main reasoning sampled
    (`traces`, for a `TraceServer`)."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self.rounds: dict[str, list[Round]] = {}

    def generate(self, requests: Sequence[GenerateRequest]) -> list[GenerateResult]:
        results = self._inner(self.engine.generate, list(requests))
        for r, res in zip(requests, results, strict=True):
            if r.trace is not None:
                c = res.completions[0]
                self.rounds.setdefault(r.trace, []).append(
                    Round(tuple(r.prompt), c.token_ids + c.stop_ids, c.finish_reason == "stop"))
        return results

    @property
    def traces(self) -> dict[str, StoredTrace]:
        """{uid: its rounds} recorded so far."""
        return {uid: StoredTrace(tuple(rounds)) for uid, rounds in self.rounds.items()}


class TraceServer(_Wrapper):
    """Serves the main reasoning of `traces` ({uid: StoredTrace}) token for token; every
    other request goes to `engine`. A stand-in for the engine's main reasoning (see the
    module docstring). `fallback`: a reasoning request the trace holds nothing for (the rule
    inserted text: an extension) goes to the engine, which samples on from there; otherwise
    it is a TraceError."""

    def __init__(self, engine: Engine, traces: Mapping[str, StoredTrace],
                 fallback: bool = False) -> None:
        super().__init__(engine)
        self.traces, self.fallback = dict(traces), fallback
        self._served: dict[str, int] = {}  # per trace: tokens a prefix cache would hold

    def generate(self, requests: Sequence[GenerateRequest]) -> list[GenerateResult]:
        out: list[GenerateResult | None] = [None] * len(requests)
        live = [i for i, r in enumerate(requests) if r.trace not in self.traces
                or (self.fallback and not self.traces[r.trace].holds(tuple(r.prompt)))]
        if not live:  # one call, as the engine would have counted it
            self.counters.calls += 1
            self.counters.generate_calls += 1
        for i, res in zip(live, self._inner(self.engine.generate, [requests[i] for i in live]),
                          strict=True):
            out[i] = res
        for i, r in enumerate(requests):
            if out[i] is None:
                out[i] = self._serve(r)
        return out  # type: ignore[return-value]

    def _serve(self, r: GenerateRequest) -> GenerateResult:
        if r.n != 1:
            raise TraceError(f"trace {r.trace}: a stored trace serves one sample, not {r.n}")
        ids, ended = self.traces[r.trace].continuation(tuple(r.prompt), r.max_tokens)  # type: ignore[index]
        whole = len(ids) <= r.max_tokens
        c = self.trim(ids[:r.max_tokens], r.stop, ended=whole and ended)
        if c.finish_reason == "length" and len(ids) < r.max_tokens:
            raise TraceError(f"trace {r.trace}: the request asks for {r.max_tokens} tokens "
                             f"after {len(r.prompt)}; the stored trace holds {len(ids)}")
        cached = min(len(r.prompt), self._served.get(r.trace, 0))  # type: ignore[arg-type]
        decoded = c.raw_tokens
        self._served[r.trace] = len(r.prompt) + decoded  # type: ignore[index]
        self.counters.prompt_tokens += len(r.prompt)
        self.counters.cached_tokens += cached
        self.counters.decode_tokens += decoded
        return GenerateResult((c,), prompt_tokens=len(r.prompt), cached_tokens=cached,
                              decoded_tokens=decoded)
