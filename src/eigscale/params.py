"""Typed, documented, validated parameters for the scalers.

Every field is declared with `param(...)`: its type, default and (for numbers) its allowed range.
There is one validation path, `Params.from_kwargs`, and one error type, `ParamError`:

- an unknown name is an error that names it and lists the valid ones;
- a wrong type is an error that names the key, the value and the expected type;
- an out-of-range number is clamped, with a `ParamClampWarning` that names the parameter, the
  value given and the value used (the seed's behaviour: runs are not lost to a typo'd range).

`source` (a file name, "gen_kwargs", ...) is carried into every message so a user knows where
the bad value came from.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from eigscale.errors import ParamError

P = TypeVar("P", bound="Params")
# the one default seed: scalers, lm-eval's --seed in the workflow, eigscale-sweep
DEFAULT_SEED = 1234


class ParamClampWarning(UserWarning):
    """A numeric parameter was outside its range and has been clamped into it."""


def param(default: Any, kind: type | tuple[type, ...], lo: float | None = None,
          hi: float | None = None, words: tuple[str, ...] = (),
          choices: tuple[str, ...] = ()) -> Any:
    """Declare a field: default, accepted type(s), optional [lo, hi] range, accepted words
    (e.g. "auto") that stand in for a number, or the only values a text may take."""
    return field(default=default, metadata={"kind": kind, "lo": lo, "hi": hi, "words": words,
                                            "choices": choices})


def _type_name(kind: type | tuple[type, ...], words: tuple[str, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = [k.__name__ for k in kinds] + [repr(w) for w in words]
    return " or ".join(names)


def _check(name: str, value: Any, meta: Mapping[str, Any], source: str) -> Any:
    kind, lo, hi, words = meta["kind"], meta["lo"], meta["hi"], meta["words"]
    if isinstance(value, str) and value in words:
        return value
    kinds = kind if isinstance(kind, tuple) else (kind,)
    ok = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
    if not ok and float in kinds and isinstance(value, int) and not isinstance(value, bool):
        value, ok = float(value), True  # 1 is a fine float
    if not ok:
        raise ParamError(f"{source}: parameter '{name}' = {value!r} has type "
                         f"{type(value).__name__}; expected {_type_name(kind, words)}",
                         param=name, value=value, source=source)
    if meta.get("choices") and value not in meta["choices"]:
        raise ParamError(f"{source}: parameter '{name}' = {value!r} is not one of "
                         f"{', '.join(meta['choices'])}", param=name, value=value, source=source)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        used = value
        if lo is not None and value < lo:
            used = type(value)(lo)
        if hi is not None and value > hi:
            used = type(value)(hi)
        if used != value:
            warnings.warn(ParamClampWarning(
                f"{source}: parameter '{name}' = {value!r} is outside [{lo}, {hi}]; "
                f"using {used!r}"), stacklevel=4)
            value = used
    return value


@dataclass(frozen=True)
class Params:
    """Base of every parameter object. Subclasses declare fields with `param()`."""

    debug: bool = param(False, bool)
    """Log every decision as it happens (level INFO on the `eigscale` logger)."""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = _check(f.name, getattr(self, f.name), f.metadata, type(self).__name__)
            object.__setattr__(self, f.name, value)

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_kwargs(cls: type[P], kwargs: Mapping[str, Any], source: str = "gen_kwargs") -> P:
        """Build from a mapping, validating every key against this class's fields."""
        valid = cls.names()
        unknown = sorted(k for k in kwargs if k not in valid)
        if unknown:
            raise ParamError(f"{source}: unknown parameter(s) {', '.join(map(repr, unknown))} "
                             f"for {cls.__name__}; valid: {', '.join(valid)}",
                             param=unknown[0], source=source)
        meta = {f.name: f.metadata for f in dataclasses.fields(cls)}
        checked = {k: _check(k, v, meta[k], source) for k, v in kwargs.items()}
        with warnings.catch_warnings():
            # values were already checked (and any clamp reported) against the right source
            warnings.simplefilter("ignore", ParamClampWarning)
            return cls(**checked)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class NoneParams(Params):
    """`none`: plain generation, exactly what the engine would do without a scaler."""

    thinking_end: str = param("", str)
    """Where a reasoning model ends its own thinking in its output ("</think>"): the tokens
    before it count as the baseline's thinking on every compute axis; "" (a model without a
    thinking section): all of its output counts. It changes nothing that is generated."""


@dataclass(frozen=True)
class ThinkingParams(Params):
    """What every thinking scaler shares: delimiters, budget, forced answer, seed."""

    max_tokens_thinking: int | str = param("auto", int, 1, 10_000_000, words=("auto",))
    """Thinking budget in tokens (inserted prompts such as "Wait" count). "auto" gives thinking
    all of the generation budget except the forced-answer prompt and min_answer_tokens (s1's
    rule; see eigscale.lengths)."""

    thinking_start: str = param("<|im_start|>think", str)
    """Appended to the prompt to open the thinking section (s1). R1-style models: "<think>"."""

    thinking_end: str = param("<|im_start|>answer", str)
    """Closes thinking; generating it is a natural end of thinking (s1). R1-style: "</think>"."""

    until_thinking: str = param("<|im_start|>", str)
    """Another string that ends thinking when generated (s1's until_thinking); "" for none."""

    answer_prompt: str = param("Final Answer:", str)
    """Written after thinking_end and a newline to force the answer (s1's "Final Answer:")."""

    max_answer_tokens: int = param(32, int, 1, 4096)
    """Token limit of each candidate answer EIG draws (the forced answer has its own room)."""

    min_answer_tokens: int = param(256, int, 1, 32768)
    """Least room of the forced answer. As in s1 the forced answer gets what is left of the
    generation budget (max_gen_toks minus thinking and the answer prompt), never less than
    this: a model that summarises before its boxed answer keeps it."""

    seed: int = param(DEFAULT_SEED, int, 0, 2**31 - 1)
    """Seeds every sampled draw, per (question, decision, purpose): batch-independent."""


THINKING_FORMATS: dict[str, dict[str, str]] = {
    # s1 / s1.1 (Qwen ChatML): the model writes "<|im_start|>answer" when it is done thinking
    "s1": {"thinking_start": "<|im_start|>think", "thinking_end": "<|im_start|>answer",
           "until_thinking": "<|im_start|>", "answer_prompt": "Final Answer:"},
    # DeepSeek-R1 and its distills, QwQ: <think> ... </think>
    "r1": {"thinking_start": "<think>\n", "thinking_end": "</think>", "until_thinking": "",
           "answer_prompt": "Final Answer:"},
    # instruct models with no thinking section (e.g. SmolLM2): a written one; EOS ends it
    "plain": {"thinking_start": "Let's think step by step.\n", "thinking_end": "\n\nTherefore,",
              "until_thinking": "", "answer_prompt": "the final answer is"},
}


def apply_thinking_format(kwargs: Mapping[str, Any], source: str = "gen_kwargs") -> dict[str, Any]:
    """Expand `thinking_format=<name>` into its delimiters; keys given explicitly win."""
    out = dict(kwargs)
    name = out.pop("thinking_format", None)
    if name is None:
        return out
    if name not in THINKING_FORMATS:
        raise ParamError(f"{source}: thinking_format = {name!r} is unknown; "
                         f"valid: {', '.join(THINKING_FORMATS)}",
                         param="thinking_format", value=name, source=source)
    return {**THINKING_FORMATS[name], **out}


@dataclass(frozen=True)
class BudgetForcingParams(ThinkingParams):
    """`budget_forcing` (s1): cap thinking, optionally suppress its end N times with "Wait"."""

    thinking_n_ignore: int = param(0, int, 0, 1000)
    """How many times a natural end of thinking is ignored and thinking_n_ignore_str appended."""

    thinking_n_ignore_str: str = param("Wait", str)
    """What is appended when an end of thinking is ignored."""


# the answer equivalence a task grades with (eigscale.grading.answer_class)
ANSWER_KINDS = ("integer", "math", "choice", "text")
POSTERIOR_ESTIMATORS = ("sampled", "scored")

DEFAULT_CONTINUATIONS = (
    "0.5:Wait. Let me check this again carefully.|0.1:Wait. Let me verify.|0:Wait"
)


def parse_continuations(spec: str) -> tuple[tuple[float, str], ...]:
    """"g1:text1|g2:text2|..." -> ((g1, text1), ...) sorted by threshold, highest first.

    At a natural end of thinking that the rule extends (EIG > lambda_cost), the first prompt whose
    threshold is <= EIG is appended: a larger expected gain earns a more searching prompt.
    """
    out = []
    for part in spec.split("|"):
        gain, sep, text = part.partition(":")
        try:
            threshold = float(gain)
        except ValueError:
            threshold = None
        if not sep or threshold is None or not text:
            raise ParamError(f"continuation_prompts: entry {part!r} is not 'threshold:text' "
                             f"(e.g. {DEFAULT_CONTINUATIONS!r})",
                             param="continuation_prompts", value=spec)
        out.append((threshold, text))
    return tuple(sorted(out, key=lambda t: -t[0]))


@dataclass(frozen=True)
class CheckpointParams(ThinkingParams):
    """What the rules that decide on the model's answer posterior at checkpoints share (EIG
    and the answer-entropy threshold): where they decide, how the candidate answers are drawn
    and classed, what extends a natural end, how long a decision may take."""

    beam_size: int = param(8, int, 1, 20)
    """Candidate answers drawn per decision (n of one batched call); |C| <= beam_size."""

    temperature: float = param(1.0, float, 0.1, 2.0)
    """Sampling temperature of candidates and MC continuations only; the main reasoning decodes
    like the baseline."""

    max_computation_time: float = param(30.0, float, 1.0, 300.0)
    """Seconds one decision may take (questions deciding together share their round's time
    equally). If sampling alone uses it up, the forecasts are not scored: the question stops
    thinking, its answer is forced and failure `time_exceeded` is recorded. A decision computed
    in full but late stands, and its overrun is recorded (`over_time`)."""

    step_tokens: int = param(256, int, 0, 1_000_000)
    """Thinking tokens between early-stop decisions; 0 = decide only at natural ends
    (extend-only)."""

    continuation_prompts: str = param(DEFAULT_CONTINUATIONS, str)
    """'threshold:text|...': the prompt that extends thinking, chosen by the size of the
    rule's score (EIG: the gain; answer entropy: the entropy)."""

    max_extensions: int = param(8, int, 0, 1000)
    """At most this many extensions of a natural end of thinking per question."""

    answer_kind: str = param("text", str, choices=ANSWER_KINDS)
    """The answer equivalence the entropy is over, the task's grader's: "integer" (the
    number), "math" (math-verify), "choice" (the letter), "text" (the canonical answer text).
    eigscale-eval sets it from the task; candidates the grader calls equal are one class."""

    posterior_estimator: str = param("sampled", str, choices=POSTERIOR_ESTIMATORS)
    """How p(class) is estimated in each context: "sampled" (beam_size answers drawn there,
    class frequencies, Miller-Madow corrected) or "scored" (the answers the model wrote,
    teacher-forced, pooled by class, plus the uncovered mass as "other"). See eigscale.eig."""

    candidate_top_p: float = param(1.0, float, 0.1, 1.0)
    """Nucleus sampling of the candidate answers: 1, the model's own distribution (a truncated
    one would make every draw agree and the entropy 0 more often than the model is sure)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        parse_continuations(self.continuation_prompts)  # malformed -> ParamError now, not mid-run

    @property
    def continuations(self) -> tuple[tuple[float, str], ...]:
        return parse_continuations(self.continuation_prompts)


@dataclass(frozen=True)
class EIGParams(CheckpointParams):
    """`expected_information_gain_reasoning`: think while the expected information gain about
    the answer exceeds its cost. The seed's seven parameters are lambda_cost, beam_size,
    mc_samples, sample_length, temperature, top_p and max_computation_time, with its defaults
    and ranges."""

    lambda_cost: float = param(0.05, float, 0.0, 10.0)
    """Information cost threshold (nats): continue iff EIG > lambda_cost."""

    mc_samples: int = param(5, int, 1, 20)
    """Monte Carlo continuations drawn to forecast the next posterior."""

    sample_length: int = param(64, int, 1, 512)
    """Tokens per Monte Carlo continuation."""

    top_p: float = param(0.9, float, 0.1, 1.0)
    """Nucleus sampling of the MC continuations (the forecasts of further thinking)."""


DYNASOR_PROBE = ("... Oh, I suddenly got the answer to the whole problem, **Final Answer**"
                 "\n\n\\[ \\boxed{")
EXITS = ("unified", "native")


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


DEER_TRIAL = "\n**Final Answer**\n\\boxed"
DEER_TRIAL_STOPS = " }|}\n|}\n\n|}.|}.\n|}\\|}}|)}|)}.|)}\n"
CONFIDENCES = ("mean", "geometric", "min")


@dataclass(frozen=True)
class DEERParams(ThinkingParams):
    """`deer` (DEER, Yang et al. 2025): at each "Wait" in the thinking, a greedy trial answer
    is written after the trial prompt; thinking stops when the model's confidence in it (the
    mean probability of its tokens) exceeds the threshold. The trial answer is discarded."""

    threshold: float = param(0.95, float, 0.0, 1.0)
    """Stop iff the trial answer's confidence > threshold (DEER's default 0.95)."""

    confidence: str = param("mean", str, choices=CONFIDENCES)
    """How the trial tokens' probabilities p_2..p_{n-1} (the opening "{" and the closing stop
    left out) combine: "mean" (DEER's avg1, its default for R1-style models), "geometric"
    (avg2, its Qwen3 default), "min"."""

    max_judge_steps: int = param(10, int, 0, 1000)
    """At most this many checks per question; then thinking runs on without stopping at
    transitions (DEER's default 10)."""

    transition: str = param("Wait", str)
    """The word whose every occurrence in the thinking is a check point (DEER's "Wait"; its
    other option is "Alternatively"). It is kept in the thinking when thinking goes on."""

    trial_prompt: str = param(DEER_TRIAL, str)
    """Appended to the thinking before the transition (thinking left open) to draw the trial
    answer (DEER's maths inducer; for multiple choice DEER writes "...I believe the final
    answer, rather than the option, is \\boxed")."""

    trial_tokens: int = param(20, int, 1, 512)
    """Tokens a trial answer may take (DEER's 20)."""

    trial_stops: str = param(DEER_TRIAL_STOPS, str)
    """'|'-separated strings where the boxed trial answer closes (DEER's list)."""

    exit: str = param("unified", str, choices=EXITS)
    """"unified": thinking_end + answer prompt + the forced answer, as every rule exits;
    "native": DEER's own, thinking_end + a blank line, then the answer written freely."""


@dataclass(frozen=True)
class AnswerEntropyParams(CheckpointParams):
    """`answer_entropy`: the direct ablation of EIG. At EIG's checkpoints, with EIG's candidate
    answers and posterior, stop when the entropy itself is at most tau (the answer has settled)
    rather than when its expected drop is at most lambda_cost; no forecasts are drawn."""

    tau: float = param(0.5, float, 0.0, 10.0)
    """Entropy threshold (nats): continue iff H_t > tau. 0 with the sampled estimator asks
    for beam_size answers in one class (Dynasor's unanimity); log(beam_size) never stops."""

