"""The loop every thinking scaler shares: reason in lockstep, let a policy react, force answers.

Per round: one engine call continues every active question's thinking until it reaches its
step limit, its budget, or a natural end (the model writes an end-of-thinking string or EOS).
The subclass policy (`on_events`) then stops, extends or continues each question. When all have
stopped, one more call forces every answer: thinking_end + "\\n" + answer_prompt, greedy.
"""

from __future__ import annotations

import logging
import time
from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field

from eigscale.engines.base import Engine, EngineCounters, GenerateRequest
from eigscale.params import ThinkingParams
from eigscale.records import QuestionRecord, summarise
from eigscale.scalers.base import (
    GREEDY,
    Decoding,
    Scaler,
    ScalerOutput,
    Stopwatch,
    derive_seed,
    generate_or_fail,
    question_uid,
)

log = logging.getLogger("eigscale.progress")


@dataclass
class Thought:
    """One question's state while it thinks."""

    prompt: tuple[int, ...]  # the caller's prompt + thinking_start
    record: QuestionRecord
    thinking: list[int] = field(default_factory=list)
    active: bool = True
    event: str = ""  # after a round: "budget", "end" (natural end) or "step"
    rounds: int = 0
    # what happened where, for replay (eigscale.replay): ("end", at, raw_end) for a natural end
    # at `at` thinking tokens whose stop completed at raw_end; ("insert", at, n) for n tokens
    # appended at `at`
    trace: list[tuple[str, int, int]] = field(default_factory=list)

    def stop(self, reason: str) -> None:
        self.active = False
        self.record.stop_reason = reason


@dataclass
class RunContext:
    """What one `run` call works with; passed to the policy hooks."""

    engine: Engine
    thoughts: list[Thought]
    budget: int
    tail: tuple[int, ...]  # thinking_end + "\n" + answer_prompt, as tokens
    thinking_stops: tuple[str, ...]
    decoding: Decoding
    clock: Stopwatch
    started: float  # perf_counter at the start of the run
    before: EngineCounters  # the engine's counters at the start of the run


class ThinkingScaler(Scaler):
    """Shared loop; subclasses give `step_limit` and `on_events`."""

    params: ThinkingParams

    def step_limit(self, thought: Thought, remaining: int) -> int:
        """Tokens the next reasoning round may add to this question (default: all it has)."""
        return remaining

    @abstractmethod
    def on_events(self, ctx: RunContext, thoughts: list[Thought]) -> None:
        """React to the round's events of these (still active) thoughts: stop, extend or let
        them continue. Budget events are already handled."""

    def run(self, engine: Engine, prompts: Sequence[Sequence[int]], max_gen_toks: int,
            decoding: Decoding = GREEDY, until: Sequence[str] = ()) -> ScalerOutput:
        ctx = self.think(engine, prompts, max_gen_toks, decoding)
        texts = self.force_answers(ctx.engine, ctx.thoughts, ctx.tail, until, ctx.clock)
        return self.finish(ctx, ctx.thoughts, texts)

    def think(self, engine: Engine, prompts: Sequence[Sequence[int]], max_gen_toks: int,
              decoding: Decoding = GREEDY) -> RunContext:
        """The thinking part of `run`: every question thinks until its policy stops it."""
        p = self.params
        t0 = time.perf_counter()
        before = engine.counters.snapshot()
        start = tuple(engine.encode(p.thinking_start))
        tail = tuple(engine.encode(p.thinking_end + "\n" + p.answer_prompt))
        if p.max_tokens_thinking == "auto":  # s1: leave room for the answer
            budget = max(1, max_gen_toks - len(tail) - p.max_answer_tokens)
        else:
            budget = int(p.max_tokens_thinking)
        thoughts = []
        for i, prompt in enumerate(prompts):
            full = tuple(prompt) + start
            rec = QuestionRecord(index=i, uid=question_uid(prompt), prompt_tokens=len(full))
            thoughts.append(Thought(prompt=full, record=rec))
        stops = tuple(s for s in (p.thinking_end, p.until_thinking) if s)
        ctx = RunContext(engine, thoughts, budget, tail, stops, decoding, Stopwatch(), t0, before)
        rounds = 0
        while active := [t for t in thoughts if t.active]:
            self._reason(ctx, active)
            for t in active:
                if t.event == "budget":
                    t.stop("budget")
            self.on_events(ctx, [t for t in active if t.active])
            rounds += 1
            log.info("%s round %d: %d/%d questions still thinking, %d thinking tokens, %.0f s",
                     self.name, rounds, sum(t.active for t in thoughts), len(thoughts),
                     sum(len(t.thinking) for t in thoughts), time.perf_counter() - t0)
        return ctx

    def finish(self, ctx: RunContext, thoughts: Sequence[Thought], texts: list[str],
               budget: int | None = None) -> ScalerOutput:
        """Records and run summary of answered thoughts (ctx's, or replay's cuts of them, with
        the thinking budget of the run they stand for)."""
        for t in thoughts:
            t.record.thinking_tokens = len(t.thinking)
            t.record.add_tokens(thinking=len(t.thinking))
        ctx.clock.seconds["total"] = time.perf_counter() - ctx.started
        summary = summarise([t.record for t in thoughts], ctx.clock.seconds,
                            ctx.engine.counters.minus(ctx.before).to_dict())
        summary.update(scaler=self.name, budget=ctx.budget if budget is None else budget,
                       params=self.params.to_dict())
        return ScalerOutput(texts, [t.record for t in thoughts], summary)

    def _reason(self, ctx: RunContext, active: list[Thought]) -> None:
        reqs = []
        for t in active:
            limit = self.step_limit(t, ctx.budget - len(t.thinking))
            seed = (derive_seed(self.params.seed, t.record.uid, t.rounds, "reason")
                    if ctx.decoding.temperature > 0 else None)
            reqs.append(GenerateRequest(t.prompt + tuple(t.thinking), max_tokens=limit,
                                        temperature=ctx.decoding.temperature,
                                        top_p=ctx.decoding.top_p, seed=seed,
                                        stop=ctx.thinking_stops))
        with ctx.clock.time("reasoning"):
            outs = generate_or_fail(ctx.engine, reqs, "reasoning")
        for t, out in zip(active, outs, strict=True):
            comp = out.completions[0]
            t.thinking += comp.token_ids
            t.rounds += 1
            if len(t.thinking) >= ctx.budget:
                t.event = "budget"
            elif comp.finish_reason == "stop":
                t.event = "end"
                t.trace.append(("end", len(t.thinking),
                                len(t.thinking) - len(comp.token_ids) + comp.raw_tokens))
            else:
                t.event = "step"

    def append(self, ctx: RunContext, t: Thought, text: str) -> bool:
        """Append an inserted prompt ("Wait") to t's thinking; False (and stop) if it would
        exhaust the budget."""
        ids = ctx.engine.encode(text)
        if len(t.thinking) + len(ids) >= ctx.budget:
            t.stop("budget")
            return False
        t.trace.append(("insert", len(t.thinking), len(ids)))
        t.thinking += ids
        return True

    def force_answers(self, engine: Engine, thoughts: Sequence[Thought], tail: tuple[int, ...],
                      until: Sequence[str], clock: Stopwatch) -> list[str]:
        """One greedy call answers every thought: its thinking + tail, then max_answer_tokens.
        Thoughts with identical tokens share one request (replay cuts often coincide)."""
        unique: dict[tuple[int, ...], int] = {}
        for t in thoughts:
            unique.setdefault(t.prompt + tuple(t.thinking) + tail, len(unique))
        reqs = [GenerateRequest(ids, max_tokens=self.params.max_answer_tokens, stop=tuple(until))
                for ids in unique]
        with clock.time("answer"):
            outs = generate_or_fail(engine, reqs, "the forced answers") if reqs else []
        texts = []
        for t in thoughts:
            ans = outs[unique[t.prompt + tuple(t.thinking) + tail]].completions[0]
            t.record.answer_tokens = len(ans.token_ids)
            t.record.add_tokens(answer=len(ans.token_ids))
            t.record.thinking = engine.decode(t.thinking)
            t.record.answer = ans.text
            texts.append(engine.decode(list(t.thinking) + list(tail) + list(ans.token_ids)))
        return texts
