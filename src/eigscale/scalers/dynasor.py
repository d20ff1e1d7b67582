"""`dynasor_cot`: stop when the model's probe answers agree (Dynasor-CoT, Fu et al. 2025).

Every `probe_interval` thinking tokens, one batched call draws, per question still thinking, a
probe: the thinking so far (left open) + `probe_prompt`, `probe_tokens` tokens, seeded by the
question and the probe's position (so a replay draws the same probe). The probe answer is its
text up to the first unmatched "}" (empty if there is none). Thinking stops when the last
`window` probes all have an answer, none contains a hesitation word (substring match on the
lower-cased probe text, as Dynasor's), and all answers are equal by the task's grader; an
uncertain or differing probe restarts the count. A natural end of thinking or the budget stops
it too. This is Dynasor's documented rule; its vLLM server path, which exits once the window is
full of hesitation-free probes even when their answers differ, is not reproduced.

Exit: "unified" (the default) forces the answer like every other rule; "native" writes the
last probe answer as the final answer, as Dynasor does, and generates nothing more. Probe
tokens are counted as their own kind (`probe`), on the total-compute axis.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eigscale.engines.base import Engine, GenerateRequest, GenerateResult
from eigscale.grading import answer_class, same_class
from eigscale.params import ANSWER_KINDS, EXITS, ThinkingParams, param
from eigscale.records import Decision, QuestionRecord
from eigscale.scalers.base import derive_seed, generate_or_fail
from eigscale.scalers.cuts import stop_at, uncut
from eigscale.scalers.thinking import RunContext, ThinkingScaler, Thought, record_probe

DYNASOR_PROBE = ("... Oh, I suddenly got the answer to the whole problem, **Final Answer**"
                 "\n\n\\[ \\boxed{")


@dataclass(frozen=True)
class DynasorParams(ThinkingParams):
    """`dynasor_cot` (Dynasor-CoT, Fu et al. 2025): every probe_interval thinking tokens a short
    probe answer is drawn after the probe prompt; thinking stops once the last `window` probe
    answers are non-empty, free of hesitation words and equal by the task's grader."""

    probe_interval: int = param(64, int, 1, 1_000_000)
    """Thinking tokens between probes (Dynasor's token interval; its presets use 32 and 64).
    The first probe comes after the first interval."""

    window: int = param(3, int, 1, 50)
    """Consecutive consistent probe answers needed to stop (Dynasor's certainty window)."""

    probe_tokens: int = param(20, int, 1, 512)
    """Tokens each probe may write."""

    probe_prompt: str = param(DYNASOR_PROBE, str)
    """Appended to the thinking so far (thinking stays open) to draw a probe answer; the
    answer is the probe's text up to the first unmatched "}"."""

    probe_temperature: float = param(0.6, float, 0.0, 2.0)
    """Sampling temperature of the probes (Dynasor's 0.6; each probe seeded by its question and
    position, so a replay draws the same); 0 = greedy probes."""

    probe_top_p: float = param(0.95, float, 0.1, 1.0)
    """Nucleus sampling of the probes."""

    hesitation_words: str = param("wait,hold,but,okay,no,hmm", str)
    """Comma-separated; a probe whose lower-cased text contains one (as a substring, as
    Dynasor matches: "not" trips "no") is uncertain and resets the window."""

    answer_kind: str = param("text", str, choices=ANSWER_KINDS)
    """Which probe answers are equal: the task's grader's (set from the task by eigscale-eval)."""

    exit: str = param("unified", str, choices=EXITS)
    """"unified": thinking_end + answer prompt + the forced answer, as every rule exits;
    "native": Dynasor's own exit, the last probe answer written as the final answer, nothing
    more generated."""

    @property
    def hesitations(self) -> tuple[str, ...]:
        return tuple(w.strip().lower() for w in self.hesitation_words.split(",") if w.strip())


NATIVE_EXIT = ("\n\n...{end}\n Oh, I have got the answer to the whole problem\n"
               "**Final Answer:**\n\\[\n \\boxed{{{answer}}}\n\\]")


def probe_answer(text: str) -> str:
    """The probe's answer: its text up to the first "}" that closes no "{" of its own."""
    depth = 0
    for i, ch in enumerate(text):
        if ch == "{":
            depth += 1
        elif ch == "}":
            if depth == 0:
                return text[:i].strip()
            depth -= 1
    return ""


class DynasorCoT(ThinkingScaler):
    name = "dynasor_cot"
    params_class = DynasorParams
    label = "Dynasor-CoT"
    colour = "#2ca02c"
    modules = ("eigscale.scalers.dynasor", "eigscale.scalers.thinking")
    stop_reasons = ("probe_stop",)
    replay_vary = "window"  # traced with the largest: every smaller one stops no later
    params: DynasorParams

    def side_bound(self, thinking: int) -> tuple[int, int]:
        probes = thinking // self.params.probe_interval + 1  # every interval, and at the end
        return probes, probes * self.params.probe_tokens

    def step_limit(self, thought: Thought, remaining: int) -> int:
        return min(self.params.probe_interval - len(thought.thinking)
                   % self.params.probe_interval, remaining)

    def on_events(self, ctx: RunContext, thoughts: list[Thought]) -> None:
        probing = []
        for t in thoughts:
            if t.event == "end":
                t.stop("natural_end")
            elif len(t.thinking) % self.params.probe_interval == 0:
                probing.append(t)
        if probing:
            self._probe(ctx, probing)

    def _probe(self, ctx: RunContext, thoughts: list[Thought]) -> None:
        p, eng = self.params, ctx.engine
        suffix = tuple(eng.encode(p.probe_prompt))
        t0, calls0 = time.perf_counter(), eng.counters.calls
        reqs = [GenerateRequest(t.prompt + tuple(t.thinking) + suffix, max_tokens=p.probe_tokens,
                                temperature=p.probe_temperature,
                                top_p=p.probe_top_p if p.probe_temperature > 0 else 1.0,
                                seed=derive_seed(p.seed, t.record.uid, len(t.thinking), "probe")
                                if p.probe_temperature > 0 else None)
                for t in thoughts]
        with ctx.clock.time("probe"):
            outs = generate_or_fail(eng, reqs, "the probes")
        seconds = {"probe": time.perf_counter() - t0}
        for t, out in zip(thoughts, outs, strict=True):
            self._judge(t, out, len(suffix), seconds, eng.counters.calls - calls0)

    def _judge(self, t: Thought, out: GenerateResult, prompt_tokens: int,
               seconds: dict[str, float], calls: int) -> None:
        p = self.params
        probe = out.completions[0]
        answer = probe_answer(probe.text)
        key = answer_class("\\boxed{" + answer + "}", p.answer_kind) if answer else None
        certain = not any(w in probe.text.lower() for w in p.hesitations)
        history = [*t.memory.get("probes", []), (key, certain)][-p.window:]
        t.memory["probes"] = history
        settled = self.settled(history)
        d = Decision(index=len(t.record.decisions), kind="step", thinking_tokens=len(t.thinking),
                     candidates=[answer], decision="stop" if settled else "continue",
                     engine_calls=calls, tokens={"probe": len(probe.token_ids),
                                                 "probe_prompt": prompt_tokens},
                     seconds=dict(seconds),
                     scores={"probe": probe.text, "answer": answer, "class": key,
                             "certain": certain})
        record_probe(t, d, out)
        if settled:
            t.memory["answer"] = answer
            t.stop("probe_stop")

    def replay_cut(self, t: Thought, rec: QuestionRecord, memory: dict[str, Any]
                   ) -> tuple[int, str, int]:
        # the first probe whose last `window` probes pass the rule (the probes sit at the same
        # points, seeded by question and position, whatever the window)
        history: list[tuple[str | None, bool]] = []
        for k, d in enumerate(rec.decisions):
            history = [*history, (d.scores["class"], d.scores["certain"])][-self.params.window:]
            if self.settled(history):
                at, reason, ext = stop_at(t, rec, k, "probe_stop")
                if reason == "probe_stop":  # the native exit answers with the agreed probe
                    memory["answer"] = d.scores["answer"]
                return at, reason, ext
        return uncut(t, rec)

    def settled(self, history: list[tuple[str | None, bool]]) -> bool:
        """The rule on the last probes ((answer class, certain), oldest first): a full window
        of answered, hesitation-free probes whose answers the grader calls equal."""
        p = self.params
        return (len(history) == p.window and all(k is not None and ok for k, ok in history)
                and all(same_class(history[0][0], k, p.answer_kind) for k, _ in history))

    def force_answers(self, engine: Engine, thoughts: Sequence[Thought], ctx: RunContext,
                      until: Sequence[str]) -> list[str]:
        """The unified exit for every thought; with exit "native", a thought stopped by its
        probes gets the last probe answer written out instead, and no engine call."""
        if self.params.exit == "unified":
            return super().force_answers(engine, thoughts, ctx, until)
        native = {id(t) for t in thoughts if t.record.stop_reason == "probe_stop"}
        forced = iter(super().force_answers(
            engine, [t for t in thoughts if id(t) not in native], ctx, until))
        texts = []
        for t in thoughts:
            if id(t) in native:
                tail = NATIVE_EXIT.format(end=self.params.thinking_end,
                                          answer=t.memory["answer"])
                t.record.thinking = engine.decode(t.thinking)
                t.record.answer = t.memory["answer"]
                t.record.answer_finish = "stop"
                texts.append(t.record.thinking + tail)
            else:
                texts.append(next(forced))
        return texts
