"""What a question cost: tokens processed and a FLOP estimate, the same way for every rule.

Equal compute means total compute: a rule is charged for everything it made the model process,
not only its thinking. Per question, from the engine's own per-request counts
(`QuestionRecord.prefill` / `.decoded`, eigscale.records.charge): every request made for the
question (reasoning rounds, forced answer, candidates, forecasts, probes, scoring)

    generated  = the tokens the engine decoded for them, EOS and stop tokens included
    prefilled  = their prompt tokens not served from the prefix cache (each round's restart
                 and every side request's tail included)
    processed  = generated + prefilled

Records made without those counts (an engine stand-in, or runs from before they existed) are
estimated from their token kinds instead: thinking + answer + candidate + mc + probe tokens
generated; the prompt, scoring prefill not served from the cache and probe prompts prefilled.

    FLOPs = 2 N processed + 4 L d sum(context length at each processed token)

N is the model's parameters that every token passes through (the transformer blocks and the
output projection; the input embedding is a lookup), L its layers, d its attention width
(heads x head dim): 2 N per token for the matrix products, 4 L d per token and context position
for the attention scores and the weighted sum. The context of a processed token is estimated
from the question's lengths: the prompt prefill P^2/2; thinking T(P + T/2); the answer
A(P + T + A/2); every other processed token (candidates, forecasts, probes, scoring, restarts)
at most P + T (they are processed at a decision inside the thinking: an upper bound for them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SIDE_KINDS = ("candidate", "mc", "probe")  # tokens a rule generates besides thinking and answer


@dataclass(frozen=True)
class ModelShape:
    params: float  # N: parameters every token passes through
    layers: int
    attention_width: int

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ModelShape:
        """From a transformers config.json (Llama / Qwen2 / Mistral style decoders)."""
        d = int(config["hidden_size"])
        layers = int(config["num_hidden_layers"])
        heads = int(config["num_attention_heads"])
        head_dim = int(config.get("head_dim") or d // heads)
        kv = int(config.get("num_key_value_heads") or heads)
        ffn = int(config.get("intermediate_size") or 4 * d)
        attn = d * heads * head_dim * 2 + d * kv * head_dim * 2  # q, o and k, v projections
        mlp = 3 * d * ffn  # gated MLP: gate, up, down
        return cls(params=float(layers * (attn + mlp) + d * int(config["vocab_size"])),
                   layers=layers, attention_width=heads * head_dim)


def question_cost(record: Mapping[str, Any], shape: ModelShape | None = None
                  ) -> dict[str, float]:
    """generated, prefilled, processed tokens and flops (NaN without a model shape) of one
    question's record (eigscale.records.QuestionRecord.to_dict())."""
    tok = record.get("tokens") or {}
    p = float(record.get("prompt_tokens") or 0)
    t = float(tok.get("thinking", record.get("thinking_tokens", 0)) or 0)
    a = float(tok.get("answer", record.get("answer_tokens", 0)) or 0)
    side = float(sum(tok.get(k, 0) or 0 for k in SIDE_KINDS))
    scored = float(max(0, (tok.get("score_prompt", 0) or 0) - (tok.get("score_cached", 0) or 0)))
    scored += float(tok.get("probe_prompt", 0) or 0)  # probe prompts: prefilled, uncached
    generated = t + a + side
    prefilled = p + scored
    decoded = record.get("decoded") or {}
    if any(decoded.values()):  # the engine's own counts
        generated = float(sum(decoded.values()))
        prefilled = float(sum((record.get("prefill") or {}).values()))
    flops = float("nan")
    if shape is not None:
        beyond = max(0.0, generated + prefilled - p - t - a)  # at a decision inside thinking
        contexts = p * p / 2 + t * (p + t / 2) + a * (p + t + a / 2) + beyond * (p + t)
        flops = 2 * shape.params * (generated + prefilled) \
            + 4 * shape.layers * shape.attention_width * contexts
    return {"generated": generated, "prefilled": prefilled, "processed": generated + prefilled,
            "flops": flops}
