"""`none`: plain generation, the baseline every other scaler is measured against."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from eigscale.engines.base import Engine, GenerateRequest
from eigscale.params import Params, param
from eigscale.records import QuestionRecord, charge, summarise
from eigscale.scalers.base import (
    GREEDY,
    Decoding,
    Scaler,
    ScalerOutput,
    derive_seed,
    generate_or_fail,
    question_uid,
    sample_of,
)


@dataclass(frozen=True)
class NoneParams(Params):
    """`none`: plain generation, exactly what the engine would do without a scaler."""

    thinking_end: str = param("", str)
    """Where a reasoning model ends its own thinking in its output ("</think>"): the tokens
    before it count as the baseline's thinking on every compute axis; "" (a model without a
    thinking section): all of its output counts. It changes nothing that is generated."""


class Plain(Scaler):
    name = "none"
    params_class = NoneParams
    label = "no scaling"
    colour = "#444444"
    modules = ("eigscale.scalers.plain",)
    stop_reasons = ("plain",)  # it has no thinking loop
    params: NoneParams

    def _thinking_tokens(self, engine: Engine, ids: Sequence[int]) -> int:
        """The tokens before the model's own end of thinking (all of them without a
        thinking_end, or when the model never wrote it)."""
        end = self.params.thinking_end
        if not end or end not in engine.decode(ids):
            return len(ids)
        # the first prefix whose text holds the delimiter (binary search: "holds it" only grows
        # with the prefix; a linear scan decodes O(n^2) characters on a 32k-token output)
        lo, hi = 1, len(ids)
        while lo < hi:
            mid = (lo + hi) // 2
            if end in engine.decode(ids[:mid]):
                hi = mid
            else:
                lo = mid + 1
        k = lo - 1
        cut = k + 1 - len(engine.encode(end))  # the delimiter's own tokens are not thinking
        return max(0, min(k, cut))

    def run(self, engine: Engine, prompts: Sequence[Sequence[int]], max_gen_toks: int,
            decoding: Decoding = GREEDY, until: Sequence[str] = (),
            samples: Sequence[int] = ()) -> ScalerOutput:
        t0 = time.perf_counter()
        before = engine.counters.snapshot()
        plan = self.plan(engine, prompts, max_gen_toks)
        uids = [question_uid(p, sample_of(samples, i)) for i, p in enumerate(prompts)]
        reqs = [GenerateRequest(tuple(p), max_tokens=plan.gen_budget,
                                temperature=decoding.temperature, top_p=decoding.top_p,
                                seed=derive_seed(decoding.seed, u, 0, "reason")
                                if decoding.temperature
                                else None,
                                stop=tuple(until))
                for p, u in zip(prompts, uids, strict=True)]
        outs = generate_or_fail(engine, reqs, "generation")
        records = []
        for i, (p, out) in enumerate(zip(prompts, outs, strict=True)):
            c = out.completions[0]
            thinking = self._thinking_tokens(engine, c.token_ids)
            rec = QuestionRecord(index=i, uid=uids[i], prompt_tokens=len(p),
                                 sample=sample_of(samples, i),
                                 thinking_tokens=thinking,
                                 answer_tokens=len(c.token_ids) - thinking, stop_reason="plain",
                                 answer_finish=c.finish_reason, answer=c.text)
            rec.add_tokens(thinking=thinking, answer=len(c.token_ids) - thinking)
            charge(rec, "output", out)
            records.append(rec)
        seconds = {"answer": time.perf_counter() - t0, "total": time.perf_counter() - t0}
        summary = summarise(records, seconds, engine.counters.minus(before).to_dict())
        summary.update(scaler=self.name, params=self.params.to_dict(), lengths=plan.to_dict())
        return ScalerOutput([o.completions[0].text for o in outs], records, summary)
