"""The shared thinking loop on real engines: s1-faithful forcing, whole prompts, one thinking
start, natural ends found across rounds."""

from __future__ import annotations

import pytest

from eigscale.lengths import LengthError
from eigscale.scalers import make_scaler
from eigscale.scalers.budget_forcing import BudgetForcing
from eigscale.scalers.replay import replay
from eigscale.scalers.thinking import RunContext, Thought

from .helpers import QUESTIONS, SpyEngine, chat_prompts

pytestmark = pytest.mark.engine

PLAIN = {"thinking_format": "plain"}
END = "\n\nTherefore,"  # the plain format's thinking_end: all a natural end gets
TAIL = END + "\nthe final answer is"  # what a cut gets: thinking_end + "\n" + answer_prompt


def test_a_cut_gets_the_answer_prompt_a_natural_end_only_thinking_end(engine):
    spy = SpyEngine(engine)
    out = make_scaler("budget_forcing", {**PLAIN, "max_tokens_thinking": 64}).run(
        spy, chat_prompts(engine, QUESTIONS[:4]), 400)
    reasons = {r.stop_reason for r in out.records}
    assert reasons == {"budget", "natural_end"}, reasons  # both kinds occur on these questions
    answers = spy.generated[-1]  # the forced answers: one call for all
    for text, rec in zip(out.texts, out.records, strict=True):
        sep = END if rec.stop_reason == "natural_end" else TAIL
        thinking, found, answer = text.partition(sep)
        assert found and thinking == rec.thinking and answer == rec.answer
        if rec.stop_reason == "natural_end":
            assert not answer.startswith("\nthe final answer is")
    # s1: the answer gets the rest of the generation budget, not a fixed few tokens
    plan = out.summary["lengths"]
    for req, rec in zip(answers, out.records, strict=True):
        used = len(req.prompt) - rec.prompt_tokens
        assert req.max_tokens == max(out.summary["params"]["min_answer_tokens"],
                                     plan["gen_budget"] - used)
        assert req.max_tokens > 32
    assert out.summary["answers_at_limit"] == sum(r.answer_finish == "length"
                                                  for r in out.records)


def test_answers_that_hit_their_room_are_counted(engine):
    n_tail = len(engine.encode(TAIL))
    out = make_scaler("budget_forcing", {**PLAIN, "max_tokens_thinking": 16,
                                         "min_answer_tokens": 3}).run(
        engine, chat_prompts(engine, QUESTIONS[:3]), 16 + n_tail + 3)
    capped = [r for r in out.records if r.stop_reason == "budget"]
    assert capped and all(r.answer_tokens <= 3 for r in capped)
    assert out.summary["answers_at_limit"] == sum(r.answer_finish == "length"
                                                  for r in out.records) > 0


def test_whole_prompts_at_the_papers_setting(vllm_engine):
    # max_gen_toks == max_model_len: the budget is derived, every prompt reaches the engine whole
    spy = SpyEngine(vllm_engine)
    prompts = chat_prompts(vllm_engine, QUESTIONS[:3])
    m = vllm_engine.max_model_len
    for name, params in (("none", {}), ("budget_forcing", {**PLAIN, "max_tokens_thinking": 24})):
        spy.generated.clear()
        out = make_scaler(name, params).run(spy, prompts, m)
        first = spy.generated[0]
        assert [r.prompt[:len(p)] for r, p in zip(first, prompts, strict=True)] == \
            [tuple(p) for p in prompts]
        assert len({r.prompt for r in first}) == len(prompts)
        lengths = out.summary["lengths"]
        assert lengths["derived"] and lengths["prompts_cut"] == 0
        assert lengths["gen_budget"] == m - lengths["longest_prompt"]
        assert all(len(r.prompt) + r.max_tokens <= m for call in spy.generated for r in call)


def test_a_prompt_too_long_for_the_context_is_refused_not_cut(vllm_engine):
    long = chat_prompts(vllm_engine, ["Add these numbers: " + "1 + " * 1100 + "1"])
    assert len(long[0]) > vllm_engine.max_model_len
    spy = SpyEngine(vllm_engine)
    with pytest.raises(LengthError, match=f"prompt 0 is {len(long[0])} tokens"):
        make_scaler("none").run(spy, long, 64)
    assert spy.generated == []  # refused before any engine call


def test_thinking_opens_once_when_the_template_already_opened_it(engine):
    # a reasoning model's chat template (DeepSeek-R1-Distill's) ends with "<think>\n"
    tok = engine.tokenizer
    template = tok.chat_template.replace("'<|im_start|>assistant\n'",
                                         "'<|im_start|>assistant\n<think>\n'")
    assert template != tok.chat_template
    texts = [tok.apply_chat_template([{"role": "user", "content": q}], tokenize=False,
                                     add_generation_prompt=True, chat_template=template)
             for q in QUESTIONS[:2]]
    assert all(t.endswith("<think>\n") for t in texts)
    prompts = [engine.encode(t) for t in texts]
    sc = make_scaler("budget_forcing", {"thinking_format": "r1", "max_tokens_thinking": 16})
    out = sc.run(engine, prompts, 400)
    for p, rec in zip(prompts, out.records, strict=True):
        assert rec.prompt_tokens == len(p)  # nothing appended
    # without it in the template, the scaler opens thinking itself, once
    plain = chat_prompts(engine, QUESTIONS[:2])
    again = sc.run(engine, plain, 400)
    start = len(engine.encode("<think>\n"))
    assert [r.prompt_tokens for r in again.records] == [len(p) + start for p in plain]


class SteppedForcing(BudgetForcing):
    """Budget forcing thinking in rounds of `step` tokens (as EIG does between decisions): a
    policy that lets every step continue and stops at a natural end."""

    def __init__(self, params, step: int) -> None:
        super().__init__(params)
        self.step = step

    def step_limit(self, thought: Thought, remaining: int) -> int:
        return min(self.step, remaining)

    def on_events(self, ctx: RunContext, thoughts: list[Thought]) -> None:
        for t in thoughts:
            if t.event == "end":
                t.stop("natural_end")


# SmolLM2 opens its reasoning on question 0 with "\nFirst, we need to find ...": a four-token
# delimiter that starts at thinking token 3
DELIM = {**PLAIN, "thinking_end": "we need to find", "max_tokens_thinking": 40,
         "min_answer_tokens": 16}
DELIM_GEN = 64  # max_gen_toks: these tests are about thinking; a short answer keeps them quick


def test_a_delimiter_across_a_round_boundary_is_a_natural_end(vllm_engine):
    # the shared loop's logic: one engine is enough (the engines' stop detection is tested on
    # both in test_engines)
    engine = vllm_engine
    prompts = chat_prompts(engine, QUESTIONS[:1])
    one_round = make_scaler("budget_forcing", DELIM).run(engine, prompts, DELIM_GEN).records[0]
    assert one_round.stop_reason == "natural_end" and one_round.thinking_tokens == 3
    for step in (2, 3, 4, 5, 6):  # boundaries before, at, and inside the delimiter
        sc = SteppedForcing(make_scaler("budget_forcing", DELIM).params, step)
        rec = sc.run(engine, prompts, DELIM_GEN).records[0]
        assert (rec.stop_reason, rec.thinking_tokens, rec.thinking) == \
            ("natural_end", 3, one_round.thinking), step


def test_a_replayed_cap_inside_a_delimiter_equals_the_live_run(vllm_engine):
    prompts = chat_prompts(vllm_engine, QUESTIONS[:2])
    caps = [3, 4, 5, 6, 40]  # 4-6 end inside "we need to find" (tokens 3-6)
    scalers = [make_scaler("budget_forcing", {**DELIM, "max_tokens_thinking": c}) for c in caps]
    live = [s.run(vllm_engine, prompts, DELIM_GEN) for s in scalers]
    assert live[2].records[0].thinking.endswith("we need")  # the delimiter's first tokens
    for a, b in zip(live, replay(vllm_engine, scalers, prompts, DELIM_GEN), strict=True):
        assert b.texts == a.texts
        assert [(r.thinking_tokens, r.stop_reason) for r in b.records] == \
            [(r.thinking_tokens, r.stop_reason) for r in a.records]
