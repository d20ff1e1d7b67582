"""Our cost must not grow with the trace: one prefix object per context, a memo keyed and
bounded so that nothing from earlier rounds is kept. Behaviour only; the times are measured in
bench/paper_scale.py, never asserted."""

from __future__ import annotations

import sys

import pytest

from eigscale.engines.vllm import LogprobMemo, VLLMEngine, prefix_classes
from eigscale.scalers import make_scaler

from .helpers import REPO, ScriptedEngine

sys.path.insert(0, str(REPO / "bench"))
from paper_scale import InstantLLM

EIG = {"thinking_format": "plain", "beam_size": 4, "mc_samples": 3, "sample_length": 8,
       "step_tokens": 32, "max_tokens_thinking": 128, "lambda_cost": 0.0,
       "min_answer_tokens": 16}


class CountedHash(tuple):
    """A prefix that counts how often it is hashed."""

    hashed = 0

    def __hash__(self) -> int:
        CountedHash.hashed += 1
        return super().__hash__()


def test_equal_prefixes_share_a_class_and_each_object_is_hashed_once():
    a = CountedHash(range(1000))
    b = CountedHash(range(1000))  # equal content, another object
    c = CountedHash(range(999))
    CountedHash.hashed = 0
    classes, _ = prefix_classes([a, a, b, c, a, b])
    assert classes[0] == classes[1] == classes[2] == classes[4] == classes[5] != classes[3]
    assert CountedHash.hashed == 3  # once per distinct object, not once per request


def test_the_memo_is_bounded_by_the_tokens_it_holds():
    memo = LogprobMemo(limit=250)
    first = memo.table(tuple(range(100)))
    memo.put(first, (1, 2), -1.0)
    assert memo.table(tuple(range(100))) is first  # an equal prefix finds the same table
    memo.table(tuple(range(100, 200)))
    assert memo.tokens == 202
    memo.table(tuple(range(200, 300)))  # would pass the limit: the memo starts over
    assert memo.tokens == 100 and memo.table(tuple(range(100))) == {}


@pytest.fixture(scope="module")
def tokenizer(model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model_dir)


class Recording(ScriptedEngine):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.score_calls: list[list] = []

    def score(self, requests):
        self.score_calls.append(list(requests))
        return super().score(requests)


def test_the_forms_of_one_context_share_one_prefix_object(tokenizer):
    engine = Recording(tokenizer, lambda n: ["4", "5", "4", "6"])
    make_scaler("expected_information_gain_reasoning",
                {**EIG, "posterior_estimator": "scored"}).run(engine, [[1, 2, 3], [4, 5]], 200)
    assert engine.score_calls
    for call in engine.score_calls:
        objects = {id(r.prefix) for r in call}
        deciding = len({r.prefix[:2] for r in call})  # the questions' prompts differ there
        # one object per context (x_t and each forecast, per question), shared by all the
        # forms scored there: a context's prefix is never copied per request
        assert len(objects) == deciding * (1 + EIG["mc_samples"])
        assert len(call) > len(objects)


def test_the_adapter_keeps_nothing_from_earlier_rounds(tokenizer):
    # the real VLLMEngine adapter over the bench's instant stand-in for vllm.LLM
    sc = make_scaler("expected_information_gain_reasoning",
                     {**EIG, "posterior_estimator": "scored"})
    tail = tuple(tokenizer.encode(sc.params.thinking_end + "\n" + sc.params.answer_prompt,
                                  add_special_tokens=False))
    engine = VLLMEngine(InstantLLM(tokenizer, max_model_len=1024, tail=tail))
    prompts = [tokenizer.encode(f"What is {k} + {k}?", add_special_tokens=False)
               for k in range(3)]
    out = sc.run(engine, prompts, 400)
    assert out.summary["decisions"] >= 3 * 3  # several rounds per question
    last_round = max(r.decisions[-1].thinking_tokens for r in out.records)
    longest_context = max(len(p) for p in prompts) + last_round + len(tail) + 8 + 4
    # the memo holds at most the last round's contexts (x_t and its forecasts, per question)
    assert engine.memo.tokens <= len(prompts) * (1 + EIG["mc_samples"]) * longest_context + 2000


def test_sampled_estimator_asks_for_no_logprobs(tokenizer):
    seen = []

    class Spy(InstantLLM):
        def generate(self, prompts, params, use_tqdm=False):
            seen.extend(p.logprobs for p in params)
            return super().generate(prompts, params, use_tqdm)

    sc = make_scaler("expected_information_gain_reasoning", EIG)
    tail = tuple(tokenizer.encode(sc.params.thinking_end + "\n" + sc.params.answer_prompt,
                                  add_special_tokens=False))
    engine = VLLMEngine(Spy(tokenizer, max_model_len=1024, tail=tail))
    sc.run(engine, [tokenizer.encode("What is 2 + 2?", add_special_tokens=False)], 400)
    assert seen and all(lp is None for lp in seen)
    assert engine.memo.tokens == 0
