"""The loop every thinking scaler shares: reason in lockstep, let a policy react, force answers.

Per round: one engine call continues every active question's thinking until it reaches its
step limit, its budget, or a natural end (the model writes an end-of-thinking string or EOS; a
string that straddles two rounds counts where it starts). The subclass policy (`on_events`)
then stops, extends or continues each question. When all have stopped, one more call forces
every answer, greedy, as s1 does: after a cut (budget, early stop, failure) a newline (unless
the thinking ends with one, or thinking_end opens with one) + thinking_end + "\n" +
answer_prompt; after the model's own end, thinking_end alone. The answer gets the rest
of the generation budget (eigscale.lengths).
"""

from __future__ import annotations

import logging
import time
from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from eigscale.engines.base import (
    Completion,
    Engine,
    EngineCounters,
    GenerateRequest,
    GenerateResult,
)
from eigscale.lengths import LengthPlan, answer_room, plan_lengths
from eigscale.params import ThinkingParams
from eigscale.records import Decision, QuestionRecord, StopReason, charge, summarise
from eigscale.scalers.base import (
    GREEDY,
    Decoding,
    Scaler,
    ScalerOutput,
    Stopwatch,
    derive_seed,
    generate_or_fail,
    question_uid,
    sample_of,
)

log = logging.getLogger("eigscale.progress")


@dataclass
class Thought:
    """One question's state while it thinks."""

    prompt: tuple[int, ...]  # the caller's prompt + thinking_start (unless it ends with it)
    record: QuestionRecord
    thinking: list[int] = field(default_factory=list)
    active: bool = True
    event: Literal["", "budget", "end", "step", "transition"] = ""  # what ended the last round
    rounds: int = 0
    transition_at: int = 0  # where the last transition (a rule's own stop, kept) began
    # what happened where, for replay (eigscale.scalers.replay): ("end", at, raw_end) for a
    # natural end at `at` thinking tokens whose stop completed at raw_end; ("insert", at, n)
    # for n tokens appended at `at`
    trace: list[tuple[str, int, int]] = field(default_factory=list)
    # natural end at `at` -> the tokens cut off there (the delimiter): a replayed cap that falls
    # inside the delimiter keeps its first tokens, as a live run with that cap does
    end_tokens: dict[int, tuple[int, ...]] = field(default_factory=dict)
    memory: dict[str, Any] = field(default_factory=dict)  # a policy's state across decisions
    # each reasoning round: (thinking tokens before it, its uncached prompt tokens, the tokens
    # the engine decoded), so a replay charges a cut what its rounds up to the cut cost
    rounds_log: list[tuple[int, int, int]] = field(default_factory=list)

    def stop(self, reason: StopReason) -> None:
        self.active = False
        self.record.stop_reason = reason


@dataclass
class RunContext:
    """What one `run` call works with; passed to the policy hooks."""

    engine: Engine
    thoughts: list[Thought]
    budget: int
    tail: tuple[int, ...]  # thinking_end + "\n" + answer_prompt, as tokens: forces an answer
    end_tail: tuple[int, ...]  # thinking_end alone: closes thinking the model ended itself
    plan: LengthPlan
    thinking_stops: tuple[str, ...]
    decoding: Decoding
    clock: Stopwatch
    started: float  # perf_counter at the start of the run
    before: EngineCounters  # the engine's counters at the start of the run
    # "\n" + tail: s1's forcing after a cut whose thinking does not end a line (the tail
    # itself where thinking_end opens with a newline)
    line_tail: tuple[int, ...]


class ThinkingScaler(Scaler):
    """Shared loop; subclasses give `step_limit` and `on_events`, and, if replayable,
    `replay_tracer` and `replay_cut`."""

    params: ThinkingParams
    # the run of a replay sweep that thinks longest, whose trace every other run is cut from:
    # the one with the "largest" or the "smallest" value of replay_vary
    replay_tracer: ClassVar[Literal["largest", "smallest"]] = "largest"

    def replay_cut(self, t: Thought, rec: QuestionRecord, memory: dict[str, Any]
                   ) -> tuple[int, StopReason, int]:
        """Where a live run of this scaler stops on t's trace, which the sweep's tracer made:
        (thinking tokens, stop reason, extensions). rec (a copy of t's record) and memory (a
        copy of t's) are left as the live run leaves them: the decisions it made, the
        policy's state (eigscale.scalers.cuts has the helpers; eigscale.scalers.replay does
        the rest)."""
        raise NotImplementedError(f"{self.name} is not replayable")

    def replay_thinking(self, t: Thought, at: int) -> list[int]:
        """The thinking a live run that stops at `at` tokens of t's trace keeps."""
        return t.thinking[:at]

    def step_limit(self, thought: Thought, remaining: int) -> int:
        """Tokens the next reasoning round may add to this question (default: all it has)."""
        return remaining

    def round_stops(self, ctx: RunContext, thought: Thought) -> tuple[str, ...]:
        """Strings that end this question's next reasoning round: the thinking stops, and
        whatever else the rule decides at (DEER: "Wait")."""
        return ctx.thinking_stops

    def is_transition(self, ctx: RunContext, stop: Completion) -> bool:
        """Did this round end on one of the rule's own stops (not a natural end)? Then the
        stop's tokens stay in the thinking, which goes on (event "transition")."""
        return False

    @abstractmethod
    def on_events(self, ctx: RunContext, thoughts: list[Thought]) -> None:
        """React to the round's events of these (still active) thoughts: stop, extend or let
        them continue. Budget events are already handled."""

    def run(self, engine: Engine, prompts: Sequence[Sequence[int]], max_gen_toks: int,
            decoding: Decoding = GREEDY, until: Sequence[str] = (),
            samples: Sequence[int] = ()) -> ScalerOutput:
        ctx = self.think(engine, prompts, max_gen_toks, decoding, samples)
        texts = self.force_answers(ctx.engine, ctx.thoughts, ctx, until)
        return self.finish(ctx, ctx.thoughts, texts)

    def thinking_prompts(self, engine: Engine, prompts: Sequence[Sequence[int]]
                         ) -> list[tuple[int, ...]]:
        """Each prompt with thinking_start appended, unless the prompt (e.g. a reasoning
        model's chat template, "...<think>\n") already ends with it: thinking opens once."""
        start_text = self.params.thinking_start
        start = tuple(engine.encode(start_text))
        window = len(start) + 4
        out = []
        for prompt in prompts:
            prompt = tuple(prompt)
            ends = bool(start_text.strip()) and engine.decode(prompt[-window:]).rstrip() \
                .endswith(start_text.rstrip())
            out.append(prompt if ends else prompt + start)
        return out

    def tails(self, engine: Engine) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """The forced tail after a cut, without and with s1's newline before thinking_end."""
        p = self.params
        forced = p.thinking_end + "\n" + p.answer_prompt
        line = forced if p.thinking_end.startswith("\n") else "\n" + forced
        return tuple(engine.encode(forced)), tuple(engine.encode(line))

    def plan(self, engine: Engine, prompts: Sequence[Sequence[int]], max_gen_toks: int,
             labels: Sequence[str] | None = None) -> LengthPlan:
        p = self.params
        tail = max(self.tails(engine), key=len)
        return plan_lengths([len(x) for x in self.thinking_prompts(engine, prompts)],
                            engine.max_model_len, max_gen_toks, labels, tail=len(tail),
                            min_answer=p.min_answer_tokens,
                            max_tokens_thinking=p.max_tokens_thinking)

    def think(self, engine: Engine, prompts: Sequence[Sequence[int]], max_gen_toks: int,
              decoding: Decoding = GREEDY, samples: Sequence[int] = ()) -> RunContext:
        """The thinking part of `run`: every question thinks until its policy stops it."""
        p = self.params
        t0 = time.perf_counter()
        before = engine.counters.snapshot()
        plan = self.plan(engine, prompts, max_gen_toks)
        tail, line_tail = self.tails(engine)
        end_tail = tuple(engine.encode(p.thinking_end))
        thoughts = []
        for i, (prompt, full) in enumerate(zip(prompts, self.thinking_prompts(engine, prompts),
                                               strict=True)):
            j = sample_of(samples, i)
            rec = QuestionRecord(index=i, uid=question_uid(prompt, j), prompt_tokens=len(full),
                                 sample=j)
            thoughts.append(Thought(prompt=full, record=rec))
        stops = tuple(s for s in (p.thinking_end, p.until_thinking) if s)
        ctx = RunContext(engine, thoughts, int(plan.thinking_budget or 1), tail, end_tail, plan,
                         stops, decoding, Stopwatch(), t0, before, line_tail)
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
                       params=self.params.to_dict(), lengths=ctx.plan.to_dict())
        return ScalerOutput(texts, [t.record for t in thoughts], summary)

    def _reason(self, ctx: RunContext, active: list[Thought]) -> None:
        reqs = []
        for t in active:
            limit = self.step_limit(t, ctx.budget - len(t.thinking))
            seed = (derive_seed(ctx.decoding.seed, t.record.uid, t.rounds, "reason")
                    if ctx.decoding.temperature > 0 else None)
            reqs.append(GenerateRequest(t.prompt + tuple(t.thinking), max_tokens=limit,
                                        temperature=ctx.decoding.temperature,
                                        top_p=ctx.decoding.top_p, seed=seed,
                                        stop=self.round_stops(ctx, t), trace=t.record.uid))
        with ctx.clock.time("reasoning"):
            outs = generate_or_fail(ctx.engine, reqs, "reasoning")
        for t, out in zip(active, outs, strict=True):
            comp = out.completions[0]
            old = len(t.thinking)
            charge(t.record, "reasoning", out)
            t.rounds_log.append((old, out.prompt_tokens - out.cached_tokens, out.decoded_tokens))
            t.thinking += comp.token_ids
            t.rounds += 1
            eos = ctx.engine.eos_token_ids
            straddle = self._straddling_end(
                ctx, t, old, comp.token_ids + tuple(i for i in comp.stop_ids if i not in eos))
            if straddle is not None:
                cut, raw_end = straddle
                t.end_tokens[cut] = tuple(t.thinking[cut:raw_end])
                del t.thinking[cut:]
                t.event = "end"
                t.trace.append(("end", cut, raw_end))
            elif len(t.thinking) >= ctx.budget:
                t.event = "budget"
            elif comp.finish_reason == "stop" and self.is_transition(ctx, comp):
                t.transition_at = len(t.thinking)
                t.thinking += comp.stop_ids[:ctx.budget - len(t.thinking)]
                t.event = "budget" if len(t.thinking) >= ctx.budget else "transition"
            elif comp.finish_reason == "stop":
                t.event = "end"
                raw_end = old + comp.raw_tokens
                t.end_tokens[len(t.thinking)] = comp.stop_ids
                t.trace.append(("end", len(t.thinking), raw_end))
            else:
                t.event = "step"

    @staticmethod
    def _straddling_end(ctx: RunContext, t: Thought, old: int, new: Sequence[int]
                        ) -> tuple[int, int] | None:
        """A thinking stop string that began in an earlier round and ends in this one (the
        engine sees only the new tokens): (where it starts, where it completes), in thinking
        tokens; None if there is none. Searched in the decoded tail of the earlier thinking
        joined to the new tokens, cut the same way the engines cut (Engine.trim)."""
        if old == 0 or not new or not ctx.thinking_stops:
            return None
        back = max(len(ctx.engine.encode(s)) for s in ctx.thinking_stops) + 2
        head = t.thinking[max(0, old - back):old]
        window = list(head) + list(new[:back])
        cut = ctx.engine.trim(window, ctx.thinking_stops, ended=False)
        if cut.finish_reason != "stop" or len(cut.token_ids) >= len(head):
            return None  # no stop string, or one that lies wholly in the new tokens
        base = old - len(head)
        return base + len(cut.token_ids), base + cut.raw_tokens

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

    @staticmethod
    def ends_a_line(engine: Engine, t: Thought) -> bool:
        """Does the thinking end with a newline? (s1 then writes none before thinking_end.)"""
        return engine.decode(t.thinking[-2:]).endswith("\n")

    def force_answers(self, engine: Engine, thoughts: Sequence[Thought], ctx: RunContext,
                      until: Sequence[str], with_thinking: bool = True,
                      answer_cap: int | None = None) -> list[str]:
        """One greedy call answers every thought: its thinking + the tail its stop calls for
        (see module doc), then the rest of the generation budget (at most `answer_cap` tokens:
        the oracle's bound). Thoughts with identical tokens share one request (replay cuts
        often coincide). Returns each thought's response: thinking + tail + answer, or
        (with_thinking=False: the oracle's many cuts of one trace) tail + answer alone, all a
        grader reads, with the record's thinking left out."""
        min_answer = self.params.min_answer_tokens
        unique: dict[tuple[int, ...], int] = {}
        rooms: list[int] = []
        keys = []
        for t in thoughts:
            tail = (ctx.end_tail if t.record.stop_reason == "natural_end"
                    else ctx.tail if self.ends_a_line(engine, t) else ctx.line_tail)
            key = t.prompt + tuple(t.thinking) + tail
            keys.append(key)
            if key not in unique:
                unique[key] = len(unique)
                room = answer_room(ctx.plan, min_answer, len(t.prompt),
                                   len(t.thinking) + len(tail))
                rooms.append(room if answer_cap is None else min(room, answer_cap))
        reqs = [GenerateRequest(ids, max_tokens=room, stop=tuple(until))
                for ids, room in zip(unique, rooms, strict=True)]
        with ctx.clock.time("answer"):
            outs = generate_or_fail(engine, reqs, "the forced answers") if reqs else []
        texts = []
        for t, key in zip(thoughts, keys, strict=True):
            ans = outs[unique[key]].completions[0]
            # each answer is charged its request's work (cuts that share one, in a replay,
            # each pay what their live run would)
            charge(t.record, "answer", outs[unique[key]])
            t.record.answer_tokens = len(ans.token_ids)
            t.record.answer_finish = ans.finish_reason
            t.record.add_tokens(answer=len(ans.token_ids))
            t.record.answer = ans.text
            if with_thinking:
                t.record.thinking = engine.decode(t.thinking)
                texts.append(engine.decode(key[len(t.prompt):] + ans.token_ids))
            else:
                texts.append(engine.decode(key[len(t.prompt) + len(t.thinking):]
                                           + ans.token_ids))
        return texts


def record_probe(t: Thought, d: Decision, out: GenerateResult) -> None:
    """File a probing rule's decision (DEER's trial, Dynasor's probe, EAT's check): on t's
    record, with its tokens (`d.tokens`' probe and probe_prompt), and the request's engine
    charge on both."""
    t.record.decisions.append(d)
    t.record.add_tokens(probe=d.tokens["probe"], probe_prompt=d.tokens["probe_prompt"])
    charge(t.record, "probe", out)
    charge(d, "probe", out)


class TransitionScaler(ThinkingScaler):
    """A rule that decides where the model writes a marker in its thinking (DEER: "Wait";
    EAT: a paragraph break): each reasoning round also ends there (event "transition", the
    marker kept, so thinking goes on as the uninterrupted trace), and `check` decides in one
    batched call for the thoughts at a marker."""

    @property
    @abstractmethod
    def marker(self) -> str:
        """The string whose every occurrence in the thinking is a transition."""

    def checks_left(self, thought: Thought) -> bool:
        """Does this question still stop at markers? (default: always)"""
        return True

    def wants_check(self, ctx: RunContext, thought: Thought) -> bool:
        """Is this transition a decision point? (default: every one)"""
        return True

    @abstractmethod
    def check(self, ctx: RunContext, thoughts: list[Thought]) -> None:
        """Decide for these thoughts, each at its `transition_at`: cut there or go on."""

    @staticmethod
    def decided(t: Thought, d: Decision, out: GenerateResult, reason: StopReason) -> None:
        """File the check's decision; a stop cuts the thinking at the transition."""
        record_probe(t, d, out)
        if d.decision == "stop":
            del t.thinking[t.transition_at:]
            t.stop(reason)

    def round_stops(self, ctx: RunContext, thought: Thought) -> tuple[str, ...]:
        if self.checks_left(thought):
            return (*ctx.thinking_stops, self.marker)
        return ctx.thinking_stops

    def is_transition(self, ctx: RunContext, stop: Completion) -> bool:
        return self.marker in ctx.engine.decode(stop.stop_ids)

    def on_events(self, ctx: RunContext, thoughts: list[Thought]) -> None:
        checking = []
        for t in thoughts:
            if t.event == "end":
                t.stop("natural_end")
            elif t.event == "transition" and self.wants_check(ctx, t):
                checking.append(t)
        if checking:
            self.check(ctx, checking)
