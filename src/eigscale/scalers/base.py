"""The scaler contract: prompts in, one response (and one record) per prompt out.

A scaler decides how long a model thinks. It receives every prompt of a task at once and
advances all of them in lockstep, so each round costs a fixed number of engine calls whatever
the batch size.
"""

from __future__ import annotations

import hashlib
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

from eigscale.engines.base import Engine, EngineFailure, GenerateRequest, GenerateResult
from eigscale.lengths import LengthPlan, plan_lengths
from eigscale.params import DEFAULT_SEED, Params
from eigscale.records import QuestionRecord


@dataclass(frozen=True)
class Decoding:
    """How the main text is decoded: exactly like the baseline run (greedy by default)."""

    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = DEFAULT_SEED
    """The traces' seed when sampling: the reasoning of (question, sample) is seeded by it and
    the round, never by a rule's own seed, so every rule of a model draws the same traces."""


GREEDY = Decoding()


@dataclass
class ScalerOutput:
    """`texts[i]` is the response to prompt i: everything generated after the prompt
    (thinking, the forced-answer prompt and the answer), as the grader must see it."""

    texts: list[str]
    records: list[QuestionRecord]
    summary: dict[str, Any]


def question_uid(prompt: Sequence[int], sample: int = 0) -> str:
    """A stable id of one trace of a prompt: its tokens and, for the k sampled traces of a
    question, the sample's index (0 is the prompt alone). Seeds derive from it, never from
    batch position: sample j of a question draws the same trace in any batch."""
    key = repr(list(prompt)) + (f"|sample {sample}" if sample else "")
    return hashlib.blake2b(key.encode(), digest_size=8).hexdigest()


def sample_of(samples: Sequence[int], i: int) -> int:
    """The sample index of prompt i (0 where the caller gave none)."""
    return int(samples[i]) if samples else 0


def derive_seed(seed: int, uid: str, index: int, purpose: str) -> int:
    """Seed of one draw, a pure function of (run seed, question, decision, purpose)."""
    h = hashlib.blake2b(f"{seed}|{uid}|{index}|{purpose}".encode(), digest_size=4)
    return int.from_bytes(h.digest(), "little") & 0x7FFFFFFF


def generate_or_fail(engine: Engine, requests: list[GenerateRequest],
                     phase: str) -> list[GenerateResult]:
    """engine.generate for a call every question depends on: a failure is the engine's, not a
    question's, so it is raised as EngineFailure naming the phase."""
    try:
        return engine.generate(requests)
    except Exception as e:
        raise EngineFailure(f"{type(engine).__name__} failed during {phase} of "
                            f"{len(requests)} question(s): {type(e).__name__}: {e}") from e


@dataclass
class Stopwatch:
    """Seconds spent per component of a run."""

    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def time(self, component: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[component] = self.seconds.get(component, 0.0) + time.perf_counter() - t0


class Scaler(ABC):
    """Base of all scalers. A subclass declares itself here; the registry
    (`eigscale.scalers.SCALERS`) and every list derived from it read these."""

    name: ClassVar[str]  # scale_func_name, in configs and gen_kwargs
    params_class: ClassVar[type[Params]]
    label: ClassVar[str]  # in figures and tables
    colour: ClassVar[str]  # in figures
    # the package modules its results depend on beyond the shared evaluation path (the code
    # fingerprint: edit one and its runs rerun)
    modules: ClassVar[tuple[str, ...]]
    # why its questions may stop thinking, beyond what every thinking rule records ("budget",
    # "natural_end", "failure"; see eigscale.records.STOP_REASONS)
    stop_reasons: ClassVar[tuple[str, ...]] = ()
    # the one parameter a replay sweep may vary (None: not replayable); a replayable rule also
    # says which value thinks longest and where its run stops on a trace (ThinkingScaler)
    replay_vary: ClassVar[str | None] = None

    def __init__(self, params: Params | None = None) -> None:
        self.params = params if params is not None else self.params_class()
        if not isinstance(self.params, self.params_class):
            raise TypeError(f"{self.name} takes {self.params_class.__name__}, "
                            f"not {type(self.params).__name__}")

    @classmethod
    def check_sweep(cls, runs: Sequence[Scaler], vary: str, source: str) -> None:
        """Raise ParamError (naming `vary`, the values and `source`) if two of a sweep's runs,
        which differ only in `vary`, cannot make different decisions. Every sweep passes
        here; a rule whose parameter takes effect only at some levels says which."""
        return None

    def side_bound(self, thinking: int) -> tuple[int, int]:
        """An upper bound on the side requests this rule makes for one trace that thinks
        `thinking` tokens, and on the tokens they generate: (requests, tokens). Probes,
        candidates, forecasts, trial answers; not the reasoning or the forced answer. The dry
        run's bill (eigscale.pipeline.bill) adds it to the generation budget. Default: none."""
        return 0, 0

    def plan(self, engine: Engine, prompts: Sequence[Sequence[int]], max_gen_toks: int,
             labels: Sequence[str] | None = None) -> LengthPlan:
        """The lengths a run of these prompts would use (eigscale.lengths), or LengthError
        naming the question (`labels[i]`, default "prompt i") that cannot fit. `run` plans
        itself; callers plan first to fail before any engine call, or to give every chunk of
        a task the budget derived from the whole task."""
        return plan_lengths([len(p) for p in prompts], engine.max_model_len, max_gen_toks,
                            labels)

    @abstractmethod
    def run(self, engine: Engine, prompts: Sequence[Sequence[int]], max_gen_toks: int,
            decoding: Decoding = GREEDY, until: Sequence[str] = (),
            samples: Sequence[int] = ()) -> ScalerOutput:
        """Respond to every prompt (token ids, chat template already applied).

        samples: the index of each prompt's sampled trace (k traces of one question are the
        same prompt k times with samples 0..k-1; empty: all 0). Every seed of prompt i derives
        from (prompt, samples[i]) (`question_uid`), and its record carries the index.

        max_gen_toks bounds what is generated per prompt (lm-eval's max_gen_toks; less when
        the longest prompt leaves less room, see `plan`); `until` are the task's stop strings,
        applied to the final answer. Prompts are never cut: one that cannot fit raises
        LengthError before any engine call. Returns texts, per-question records and the run
        summary (with the length plan under "lengths").
        """
