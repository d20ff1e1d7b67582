"""The field's other stopping rules, decision logic on scripted traces (ScriptedEngine, a
stand-in named as such: it tests the rules, not a model). Replay equals live for each on the
real vLLM engine is in test_replay.py."""

from __future__ import annotations

import math

import numpy as np
import pytest

from eigscale.engines.base import Completion, GenerateResult
from eigscale.scalers import make_scaler
from eigscale.scalers.deer import confidence
from eigscale.scalers.replay import replay

from .helpers import ScriptedEngine

ENTROPY = {"thinking_format": "plain", "beam_size": 4, "step_tokens": 16,
           "max_tokens_thinking": 128, "min_answer_tokens": 16, "tau": 0.5}


@pytest.fixture(scope="module")
def tokenizer(model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model_dir)


def calls_then(first: list[list[str]], then: list[str]):
    """answers(context) for a ScriptedEngine: the i-th answer request gets first[i], later
    ones `then`."""
    seen = []

    def answers(_n: int) -> list[str]:
        seen.append(1)
        return first[len(seen) - 1] if len(seen) <= len(first) else then
    return answers


def test_answer_entropy_stops_at_the_first_checkpoint_at_or_below_tau(tokenizer):
    spread = ["1", "2", "3", "4"]  # four classes: H = log 4 + 3/8 (Miller-Madow)
    engine = ScriptedEngine(tokenizer, calls_then([spread, spread], ["7"]))
    out = make_scaler("answer_entropy", ENTROPY).run(engine, [[1, 2, 3]], 200)
    rec = out.records[0]
    assert [d.decision for d in rec.decisions] == ["continue", "continue", "stop"]
    assert rec.stop_reason == "entropy_stop" and rec.thinking_tokens == 3 * 16
    h = [d.entropy for d in rec.decisions]
    assert h[0] == pytest.approx(math.log(4) + 3 / 8) and h[2] == 0.0
    for d in rec.decisions:
        assert d.eig is None and d.tokens["mc"] == 0  # no forecasts: only the level counts
        assert d.context_entropies == [d.entropy]


def test_answer_entropy_at_tau_stops_and_above_it_continues(tokenizer):
    two = ["1", "1", "2", "2"]  # H = log 2 + 1/8
    h = math.log(2) + 1 / 8
    for tau, first in ((h + 1e-9, "stop"), (h - 1e-3, "continue")):
        engine = ScriptedEngine(tokenizer, lambda _n: two)
        out = make_scaler("answer_entropy", {**ENTROPY, "tau": tau}).run(engine, [[1, 2]], 200)
        assert out.records[0].decisions[0].decision == first


def test_answer_entropy_levels_are_the_sampled_entropies_it_can_take():
    """K = 8 answers, at least 2 gradable: 0 (one class), then 7-1 of 8 (0.439 nats), 6-1 of
    7, ...; every value is a Miller-Madow entropy of some split, and every split's is one."""
    from eigscale.eig import counts_entropy
    from eigscale.scalers.answer_entropy import entropy_levels

    levels = entropy_levels(8, 2)
    assert levels[0] == 0.0 and levels[1] == pytest.approx(counts_entropy([7, 1]))
    assert levels[1] == pytest.approx(math.log(8) - 7 / 8 * math.log(7) + 1 / 16)
    assert levels[2] == pytest.approx(counts_entropy([6, 1]))  # one answer not gradable
    assert np.isclose(levels, counts_entropy([3, 3, 2])).any()
    assert (np.diff(levels) > 0).all()
    assert len(entropy_levels(8, 8)) < len(levels)  # all 8 gradable: fewer levels


def test_a_tau_sweep_without_a_level_between_values_is_refused():
    from eigscale.errors import ParamError

    runs = [make_scaler("answer_entropy", {**ENTROPY, "beam_size": 8, "tau": t})
            for t in (0.1, 0.3, 0.44)]
    with pytest.raises(ParamError, match=r"\[0\.1, 0\.3\].*0\.439") as e:
        type(runs[0]).check_sweep(runs, "tau", "paper.yaml")
    assert e.value.param == "tau" and e.value.value == [0.1, 0.3]
    type(runs[0]).check_sweep(runs[1:], "tau", "paper.yaml")  # 0.439 lies between: distinct
    scored = [make_scaler("answer_entropy", {**ENTROPY, "tau": t,
                                             "posterior_estimator": "scored"})
              for t in (0.1, 0.3)]
    type(scored[0]).check_sweep(scored, "tau", "paper.yaml")  # continuous: every tau counts


def test_answer_entropy_never_stops_below_a_settled_answer_it_never_sees(tokenizer):
    spread = ["1", "2", "3", "4"]
    engine = ScriptedEngine(tokenizer, lambda _n: spread)
    out = make_scaler("answer_entropy", ENTROPY).run(engine, [[1, 2, 3]], 200)
    rec = out.records[0]
    assert rec.stop_reason == "budget" and rec.thinking_tokens == 128
    assert all(d.decision == "continue" for d in rec.decisions)


# -- dynasor_cot ---------------------------------------------------------------------------
DYNASOR = {"thinking_format": "plain", "probe_interval": 16, "window": 3,
           "max_tokens_thinking": 160, "min_answer_tokens": 16, "answer_kind": "integer"}


class Probed(ScriptedEngine):
    """ScriptedEngine whose probe requests (the prompt ends with the probe prompt) get the
    scripted probe texts in order; everything else as ScriptedEngine."""

    def __init__(self, tokenizer, probes: list[str]) -> None:
        super().__init__(tokenizer, lambda _n: ["7"])
        self.probes = list(probes)
        self.asked = 0

    def generate(self, requests):
        out = super().generate(requests)
        for i, r in enumerate(requests):
            if self.decode(r.prompt[-4:]).endswith("\\boxed{"):
                text = self.probes[min(self.asked, len(self.probes) - 1)]
                self.asked += 1
                ids = tuple(self.encode(text))
                out[i] = GenerateResult((Completion(ids, text, "length", len(ids)),),
                                        len(r.prompt), 0)
        return out


def dynasor(tokenizer, probes, **params):
    engine = Probed(tokenizer, probes)
    out = make_scaler("dynasor_cot", {**DYNASOR, **params}).run(engine, [[1, 2, 3]], 240)
    return out


@pytest.mark.parametrize("probes, stops_at", [
    (["12} so", "12}", "12}", "12}"], 3),  # the window's third consistent probe, not before
    (["12}", "12} wait", "12}", "12}", "12}"], 5),  # a hesitation word restarts the window
    (["12}", "13}", "13}", "13}"], 4),  # a different answer restarts it
    (["12", "12}", "12}", "12}"], 4),  # no closing brace: no answer, no count
    (["12}", "Hmm, 12}", "12}", "12}", "12}"], 5),  # case-insensitive
    (["12}", "12} not", "12}", "12}", "12}"], 5),  # substring semantics: "not" holds "no"
])
def test_dynasor_stops_after_window_consistent_hesitation_free_probes(tokenizer, probes,
                                                                      stops_at):
    out = dynasor(tokenizer, probes)
    rec = out.records[0]
    assert rec.stop_reason == "probe_stop"
    assert len(rec.decisions) == stops_at and rec.thinking_tokens == 16 * stops_at
    assert [d.decision for d in rec.decisions] == ["continue"] * (stops_at - 1) + ["stop"]
    assert rec.tokens["probe"] == sum(d.tokens["probe"] for d in rec.decisions) > 0


def test_dynasor_answers_equal_by_the_graders_class(tokenizer):
    out = dynasor(tokenizer, ["\\frac{1}{2}}", "0.5}", "1/2}"], answer_kind="math")
    rec = out.records[0]
    assert rec.stop_reason == "probe_stop" and len(rec.decisions) == 3
    assert rec.decisions[0].scores["answer"] == "\\frac{1}{2}"


def test_dynasor_does_not_exit_on_disagreeing_hesitation_free_probes(tokenizer):
    # the Dynasor server's unconditional exit would stop here: answers differ, so we do not
    out = dynasor(tokenizer, ["1}", "2}", "3}", "4}", "5}", "6}", "7}", "8}", "9}", "10}"])
    rec = out.records[0]
    assert rec.stop_reason == "budget" and rec.thinking_tokens == 160
    assert all(d.decision == "continue" for d in rec.decisions)


def test_dynasor_exits_unified_or_native(tokenizer):
    unified = dynasor(tokenizer, ["12}"])
    native = dynasor(tokenizer, ["12}"], exit="native")
    assert unified.texts[0].count("the final answer is") == 1  # the forced answer
    assert native.texts[0].endswith("\\boxed{12}\n\\]") and "the final answer is" not in \
        native.texts[0]
    assert native.records[0].answer_tokens == 0 and unified.records[0].answer_tokens > 0
    assert native.records[0].thinking == unified.records[0].thinking


# -- replay on scripted traces (on the real engine: test_replay.py) -------------------------
def test_dynasor_windows_replay_from_one_trace(tokenizer):
    probes = ["12}", "13}", "13}", "hmm 13}", "13}", "13}", "13}"]
    scalers = [make_scaler("dynasor_cot", {**DYNASOR, "window": w}) for w in (1, 2, 3)]
    live = [s.run(Probed(tokenizer, probes), [[1, 2, 3]], 240) for s in scalers]
    replayed = replay(Probed(tokenizer, probes), scalers, [[1, 2, 3]], 240)
    assert [o.records[0].thinking_tokens for o in live] == [16, 48, 112]
    for a, b in zip(live, replayed, strict=True):
        assert b.texts == a.texts
        ra, rb = a.records[0], b.records[0]
        assert (rb.stop_reason, rb.thinking_tokens, rb.tokens) == \
            (ra.stop_reason, ra.thinking_tokens, ra.tokens)
        assert [d.decision for d in rb.decisions] == [d.decision for d in ra.decisions]


def test_answer_entropy_taus_replay_from_one_trace(tokenizer):
    script = [["1", "2", "3", "4"], ["1", "1", "2", "3"], ["1", "1", "2", "2"], ["7"]]

    def engine():  # answers by thinking length, so that the forced answers agree too
        first: list[int] = []

        def answers(n: int) -> list[str]:
            first[:] = first or [n]
            k = (n - first[0]) // 16
            return script[k] if k < len(script) else ["7"]
        return ScriptedEngine(tokenizer, answers)
    scalers = [make_scaler("answer_entropy", {**ENTROPY, "tau": tau}) for tau in (0.0, 0.9, 1.3)]
    live = [s.run(engine(), [[1, 2, 3]], 200) for s in scalers]
    replayed = replay(engine(), scalers, [[1, 2, 3]], 200)
    assert [o.records[0].thinking_tokens for o in live] == [64, 48, 32]
    for a, b in zip(live, replayed, strict=True):
        assert b.texts == a.texts
        assert [(d.decision, d.entropy) for d in b.records[0].decisions] == \
            [(d.decision, d.entropy) for d in a.records[0].decisions]


# -- deer ----------------------------------------------------------------------------------
DEER_PARAMS = {"thinking_format": "plain", "max_tokens_thinking": 60, "min_answer_tokens": 16}
STEPS = " First step. Wait, second step. Wait, third step. Wait, fourth step." * 8


class Transitions(ScriptedEngine):
    """ScriptedEngine whose reasoning is a fixed text (cut at the request's stop strings, as
    an engine does) and whose trial answers ("{12") have scripted token probabilities: the
    i-th check's answer tokens after the "{" have probability confidences[i]."""

    def __init__(self, tokenizer, confidences: list[float], closing: float = 1.0) -> None:
        super().__init__(tokenizer, lambda _n: ["7"])
        self.trace = tuple(self.encode(STEPS))
        self.confidences, self.checks, self.base = list(confidences), 0, None
        self.closing = closing  # the probability of the "}" that closes each trial answer
        self.trials: list[str] = []  # each trial request's prompt, as text

    def generate(self, requests):
        out = super().generate(requests)
        for i, r in enumerate(requests):
            text = self.decode(r.prompt[-4:])
            if text.endswith("\\boxed"):
                conf = self.confidences[min(self.checks, len(self.confidences) - 1)]
                self.checks += 1
                self.trials.append(self.decode(r.prompt))
                ids = tuple(self.encode("{12"))
                lps = (math.log(0.9),) + (math.log(conf),) * (len(ids) - 1)
                close = tuple(self.encode("}"))
                out[i] = GenerateResult((Completion(ids, "{12", "stop", len(ids) + 1, close,
                                                    lps, (math.log(self.closing),)),),
                                        len(r.prompt), 0)
            elif not text.endswith("the final answer is"):  # reasoning
                self.base = self.base or len(r.prompt)
                k = len(r.prompt) - self.base
                comp = self.trim(self.trace[k:k + r.max_tokens], r.stop, ended=False)
                out[i] = GenerateResult((comp,), len(r.prompt), 0)
        return out


def deer(tokenizer, confidences, closing=1.0, **params):
    return make_scaler("deer", {**DEER_PARAMS, **params}).run(
        Transitions(tokenizer, confidences, closing), [[1, 2, 3]], 120)


def test_deer_confidence_policies():
    lps = [math.log(0.2), math.log(0.9), math.log(0.5), math.log(1.0)]  # the first is skipped
    assert confidence(lps, "mean") == pytest.approx((0.9 + 0.5 + 1.0) / 3)
    assert confidence(lps, "geometric") == pytest.approx((0.9 * 0.5) ** (1 / 3))
    assert confidence(lps, "min") == pytest.approx(0.5)
    assert confidence(lps[:1], "mean") == 0.0  # nothing after the "{": no confidence
    # the closing token averaged in, as DEER's vLLM script does: 0.92 closed at 0.99
    one = [math.log(0.5), math.log(0.92)]
    assert confidence(one, "mean", [math.log(0.99)]) == pytest.approx(0.955)
    assert confidence(one, "mean") == pytest.approx(0.92)
    assert confidence(one, "min", [math.log(0.99)]) == pytest.approx(0.92)


def test_deer_counts_the_closing_token_unless_told_not_to(tokenizer):
    """Between the two confidences, a 0.92 answer closed at 0.99 exits with the reference's
    (the closing token averaged in), and goes on with the transformers implementation's."""
    n = len(tokenizer.encode("{12", add_special_tokens=False)) - 1  # tokens after the "{"
    reference = (n * 0.92 + 0.99) / (n + 1)
    threshold = (0.92 + reference) / 2
    with_closing = deer(tokenizer, [0.92], closing=0.99, threshold=threshold).records[0]
    assert with_closing.stop_reason == "deer_stop" and len(with_closing.decisions) == 1
    assert with_closing.decisions[0].scores["confidence"] == pytest.approx(reference)
    without = deer(tokenizer, [0.92], closing=0.99, threshold=threshold,
                   with_closing=False).records[0]
    assert without.stop_reason == "budget"
    assert without.decisions[0].scores["confidence"] == pytest.approx(0.92)


@pytest.mark.parametrize("kind, inducer", [("choice", "rather than the option, is \\boxed"),
                                           ("math", "**Final Answer**\n\\boxed")])
def test_deer_trial_prompt_follows_the_tasks_answer_kind(tokenizer, kind, inducer):
    from eigscale.lmeval.gen_kwargs import with_answer_kind
    from eigscale.lmeval.tasks import ANSWER_KIND

    engine = Transitions(tokenizer, [0.5])
    make_scaler("deer", {**DEER_PARAMS, "answer_kind": kind}).run(engine, [[1, 2, 3]], 120)
    assert engine.trials and all(t.endswith(inducer) for t in engine.trials)
    assert ("rather than the option" in engine.trials[0]) == (kind == "choice")
    # the lm-eval layer sets the kind from the task: GPQA is multiple choice
    assert with_answer_kind({"scale_func_name": "deer"}, "gpqa_diamond")["answer_kind"] \
        == ANSWER_KIND["gpqa_diamond"] == "choice"


def test_deer_native_exit_writes_a_newline_before_thinking_end(tokenizer):
    out = deer(tokenizer, [0.99], exit="native")
    rec = out.records[0]
    assert rec.stop_reason == "deer_stop"
    end = make_scaler("deer", DEER_PARAMS).params.thinking_end
    assert out.texts[0].startswith(rec.thinking + "\n" + end + "\n\n")


def test_deer_exits_at_the_first_transition_whose_trial_passes_not_before(tokenizer):
    out = deer(tokenizer, [0.5, 0.9, 0.97])
    rec = out.records[0]
    assert [d.decision for d in rec.decisions] == ["continue", "continue", "stop"]
    assert rec.stop_reason == "deer_stop"
    assert rec.thinking == " First step. Wait, second step. Wait, third step."
    assert rec.tokens["probe"] == sum(d.tokens["probe"] for d in rec.decisions) > 0
    assert out.texts[0].startswith(rec.thinking + "\n\nTherefore,")  # the unified exit


def test_deer_going_on_keeps_the_transition_so_the_trace_is_the_greedy_one(tokenizer):
    out = deer(tokenizer, [0.5])
    rec = out.records[0]
    engine = Transitions(tokenizer, [0.5])
    assert rec.stop_reason == "budget" and rec.thinking_tokens == 60
    assert rec.thinking == engine.decode(engine.trace[:60])
    assert len(rec.decisions) == rec.thinking.count("Wait")


def test_deer_threshold_is_strict_and_checks_are_limited(tokenizer):
    at = deer(tokenizer, [0.5], threshold=0.5, with_closing=False).records[0]
    assert at.stop_reason == "budget"  # 0.5 does not exceed 0.5
    limited = deer(tokenizer, [0.5, 0.5, 0.99], max_judge_steps=2).records[0]
    assert len(limited.decisions) == 2 and limited.stop_reason == "budget"


def test_deer_thresholds_replay_from_one_trace(tokenizer):
    confidences = [0.7, 0.9, 0.97, 0.99]
    scalers = [make_scaler("deer", {**DEER_PARAMS, "threshold": th}) for th in (0.6, 0.95, 0.995)]
    live = [s.run(Transitions(tokenizer, confidences), [[1, 2, 3]], 120) for s in scalers]
    replayed = replay(Transitions(tokenizer, confidences), scalers, [[1, 2, 3]], 120)
    assert [len(o.records[0].decisions) for o in live] == [1, 3, len(live[2].records[0].decisions)]
    for a, b in zip(live, replayed, strict=True):
        assert b.texts == a.texts
        ra, rb = a.records[0], b.records[0]
        assert (rb.stop_reason, rb.thinking_tokens, rb.tokens) == \
            (ra.stop_reason, ra.thinking_tokens, ra.tokens)


# -- s1's forcing ----------------------------------------------------------------------------
class Lines(ScriptedEngine):
    """ScriptedEngine whose reasoning is `filler` repeated (cut at max_tokens), keeping every
    request it is given."""

    def __init__(self, tokenizer, filler: str) -> None:
        super().__init__(tokenizer, lambda _n: ["7"])
        self.filler, self.requests = filler, []

    def generate(self, requests):
        self.requests += requests
        out = super().generate(requests)
        for i, r in enumerate(requests):
            if not self.decode(r.prompt[-8:]).endswith("Final Answer:"):
                ids = tuple(self.encode(self.filler) * r.max_tokens)[: r.max_tokens]
                out[i] = GenerateResult((Completion(ids, self.decode(ids), "length", len(ids)),),
                                        len(r.prompt), 0)
        return out


@pytest.mark.parametrize("filler, cap, newline", [
    (" step", 6, True),  # the thinking ends mid-line: s1 writes a newline first
    (" step\n", 6, False),  # it ends with one: none is added
])
def test_a_cut_is_forced_with_s1s_newline_before_thinking_end(tokenizer, filler, cap, newline):
    engine = Lines(tokenizer, filler)
    sc = make_scaler("budget_forcing", {"thinking_format": "s1", "max_tokens_thinking": cap})
    out = sc.run(engine, [[1, 2, 3]], 64)
    assert out.records[0].stop_reason == "budget"
    forced = engine.decode(engine.requests[-1].prompt)
    thinking = out.records[0].thinking
    p = sc.params
    assert forced.endswith(thinking + ("\n" if newline else "") + p.thinking_end + "\n"
                           + p.answer_prompt)
    assert out.texts[0].startswith(thinking + ("\n" if newline else "") + p.thinking_end)


# -- eat -------------------------------------------------------------------------------------
EAT_PARAMS = {"thinking_format": "plain", "max_tokens_thinking": 120, "min_answer_tokens": 16,
              "timescale": 0.5, "warmup": 2, "delta": 0.01}
PARAGRAPHS = "".join(f" Step {k} is done.\n\n" for k in range(40))


class Breaks(ScriptedEngine):
    """ScriptedEngine whose reasoning is a fixed text of paragraphs (cut at the request's stop
    strings, as an engine does) and whose entropy requests get the scripted entropies in order
    (bits); every entropy request's prompt is kept."""

    def __init__(self, tokenizer, entropies: list[float]) -> None:
        super().__init__(tokenizer, lambda _n: ["7"])
        self.trace = tuple(self.encode(PARAGRAPHS))
        self.entropies, self.base, self.checks = list(entropies), None, []

    def generate(self, requests):
        out = super().generate(requests)
        for i, r in enumerate(requests):
            if r.entropy:
                x = self.entropies[min(len(self.checks), len(self.entropies) - 1)]
                self.checks.append(self.decode(r.prompt))
                ids = tuple(self.encode(" The"))
                out[i] = GenerateResult((Completion(ids, " The", "length", 1, entropy=x),),
                                        len(r.prompt), 0, 1)
            elif not self.decode(r.prompt[-4:]).endswith("the final answer is"):
                self.base = self.base or len(r.prompt)
                k = len(r.prompt) - self.base
                out[i] = GenerateResult((self.trim(self.trace[k:k + r.max_tokens], r.stop,
                                                   ended=False),), len(r.prompt), 0)
        return out


def eat(tokenizer, entropies, **params):
    engine = Breaks(tokenizer, entropies)
    return make_scaler("eat", {**EAT_PARAMS, **params}).run(engine, [[1, 2, 3]], 200), engine


def test_eat_stops_on_the_moving_variance_of_a_known_entropy_sequence(tokenizer):
    """Entropies 2, 1, 1, ...: moving variance (a = 1/2) 0, 1/8, 3/32, 7/128, 15/512,
    31/2048, 63/8192: the seventh check is the first below 0.01."""
    out, engine = eat(tokenizer, [2.0] + [1.0] * 20)
    rec = out.records[0]
    assert rec.stop_reason == "eat_stop" and len(rec.decisions) == 7
    variances = [d.scores["variance"] for d in rec.decisions]
    assert variances == pytest.approx([0, 1 / 8, 3 / 32, 7 / 128, 15 / 512, 31 / 2048,
                                       63 / 8192])
    assert [d.decision for d in rec.decisions] == ["continue"] * 6 + ["stop"]
    # thinking stops before the seventh break, and each check closed the thinking as the
    # reference does: the paragraph, then "\n" + thinking_end + "\n\n"
    assert rec.thinking == "".join(f" Step {k} is done.\n\n" for k in range(6)) + \
        " Step 6 is done."
    end = make_scaler("eat", EAT_PARAMS).params.thinking_end
    assert engine.checks[0].endswith(" Step 0 is done." + end + "\n\n")
    assert rec.tokens["probe"] == 7  # one decoded token per check: charged


def test_eat_waits_for_its_warmup(tokenizer):
    rec = eat(tokenizer, [1.0] * 30, warmup=3)[0].records[0]  # variance 0 from the start
    assert rec.stop_reason == "eat_stop" and len(rec.decisions) == 4


def test_eat_deltas_replay_from_one_trace(tokenizer):
    entropies = [2.0] + [1.0] * 20
    scalers = [make_scaler("eat", {**EAT_PARAMS, "delta": d}) for d in (0.01, 0.05, 0.1)]
    live = [s.run(Breaks(tokenizer, entropies), [[1, 2, 3]], 200) for s in scalers]
    replayed = replay(Breaks(tokenizer, entropies), scalers, [[1, 2, 3]], 200)
    assert [len(o.records[0].decisions) for o in live] == [7, 5, 3]  # 15/512, 3/32 < delta
    for a, b in zip(live, replayed, strict=True):
        assert b.texts == a.texts
        ra, rb = a.records[0], b.records[0]
        assert (rb.stop_reason, rb.thinking_tokens, rb.tokens) == \
            (ra.stop_reason, ra.thinking_tokens, ra.tokens)
