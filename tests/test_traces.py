"""Stored traces (eigscale.engines.traces): what was sampled is served back token for token,
cut as the engine cuts a sample; what the trace does not hold goes to the engine."""

from __future__ import annotations

import pytest

from eigscale.engines.base import GenerateRequest
from eigscale.engines.traces import TraceError, TraceRecorder, TraceServer

from .helpers import ScriptedEngine


@pytest.fixture(scope="module")
def tokenizer(model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model_dir)


def test_a_trace_is_served_across_other_rounds_and_stops_and_only_it(tokenizer):
    engine = ScriptedEngine(tokenizer, lambda n: ["5"])
    eos = tokenizer.eos_token_id
    prompt = tuple(engine.encode("Q: how many?"))
    sampled = (*tuple(engine.encode(" I count. Then I add.\n\nDone")), eos)

    class Sampler(ScriptedEngine):  # the engine's one round: the whole trace, then EOS
        def generate(self, requests):
            from eigscale.engines.base import GenerateResult

            return [GenerateResult((self.trim(sampled[:r.max_tokens], r.stop, True),),
                                   len(r.prompt), 0, len(sampled)) for r in requests]

    recorder = TraceRecorder(Sampler(tokenizer, lambda n: ["5"]))
    recorder.generate([GenerateRequest(prompt, 64, temperature=0.6, seed=1, trace="q0")])
    server = TraceServer(engine, recorder.traces)
    # a rule that stops at "." gets the trace up to its first "." (not to EOS), then the rest
    first = server.generate([GenerateRequest(prompt, 64, stop=(".",), trace="q0")])[0]
    c = first.completions[0]
    assert c.text == " I count" and c.finish_reason == "stop"
    assert engine.decode(c.stop_ids) == "."
    at = prompt + c.token_ids + c.stop_ids
    second = server.generate([GenerateRequest(at, 3, trace="q0")])[0].completions[0]
    assert second.token_ids == sampled[len(c.token_ids) + len(c.stop_ids):][:3]
    assert second.finish_reason == "length"
    # the served tokens are charged as a prefix-cached engine decodes and prefills them
    assert server.counters.decode_tokens == c.raw_tokens + 3
    assert server.counters.cached_tokens == len(at)
    # to the end: the model's own EOS ends it
    rest = server.generate([GenerateRequest(at, 64, trace="q0")])[0].completions[0]
    assert rest.finish_reason == "stop" and rest.stop_ids == (eos,)
    # side requests go to the engine; a prompt off the trace is an error, or, with fallback,
    # the engine's (an inserted "Wait" continues live)
    probe = server.generate([GenerateRequest((*at, 7), 4)])[0].completions[0]
    assert probe.finish_reason == "length" and len(probe.token_ids) == 4
    with pytest.raises(TraceError, match="no stored round"):
        server.generate([GenerateRequest((*at, 7), 4, trace="q0")])
    live = TraceServer(engine, recorder.traces, fallback=True)
    assert live.generate([GenerateRequest((*at, 7), 4, trace="q0")])[0].completions[0] \
        .token_ids == tuple(engine.encode(" step") * 4)[:4]
