"""The transformers engine: the reference for CPU runs and for checking vLLM's numbers.

Generation is our own KV-cached decoding loop rather than `model.generate`, for two reasons:
every sample gets its own `torch.Generator` (so a seeded sample does not depend on its batch
neighbours), and stop strings are handled exactly as the vLLM engine handles them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import torch

from eigscale.engines.base import (
    Engine,
    GenerateRequest,
    GenerateResult,
    ScoreRequest,
    ScoreResult,
    entropy_bits,
)


def _sample_rows(logits: torch.Tensor, reqs: list[GenerateRequest],
                 gens: list[torch.Generator | None], rows: list[int]) -> dict[int, int]:
    """Next token of each row in `rows`: argmax for greedy rows; for sampled rows temperature
    and top-p over the whole batch at once, then one draw per row from its own generator."""
    out = {}
    greedy = [b for b in rows if reqs[b].temperature <= 0]
    if greedy:
        for b, t in zip(greedy, logits[greedy].argmax(-1).tolist(), strict=True):
            out[b] = t
    sampled = [b for b in rows if reqs[b].temperature > 0]
    if sampled:
        temps = torch.tensor([reqs[b].temperature for b in sampled])[:, None]
        probs = torch.softmax(logits[sampled] / temps, dim=-1)
        top_p = torch.tensor([reqs[b].top_p for b in sampled])[:, None]
        sorted_p, order = torch.sort(probs, dim=-1, descending=True)
        # keep the smallest prefix whose mass reaches top_p (the top token always survives)
        sorted_p[(sorted_p.cumsum(-1) - sorted_p) >= top_p] = 0.0
        for k, b in enumerate(sampled):
            j = int(torch.multinomial(sorted_p[k], 1, generator=gens[b]))
            out[b] = int(order[k, j])
    return out


class HFEngine(Engine):
    """transformers AutoModelForCausalLM on CPU (or one GPU), float32 by default."""

    name = "hf"

    def __init__(self, model, tokenizer, batch_size: int = 32,
                 max_model_len: int | None = None) -> None:
        """Wrap a loaded transformers model and its tokenizer (e.g. lm-eval's HFLM's).
        max_model_len: the context the caller allows (lm-eval's max_length); default the
        model's own (max_position_embeddings)."""
        super().__init__()
        self.tokenizer = tokenizer
        self.model = model.eval()
        own = getattr(model.config, "max_position_embeddings", None) or 2048
        self.max_model_len = int(min(max_model_len, own) if max_model_len else own)
        self.device = next(model.parameters()).device
        self.batch_size = batch_size
        eos = self.model.generation_config.eos_token_id
        eos = eos if isinstance(eos, list) else [eos]
        self.eos_token_ids = frozenset(
            [e for e in eos if e is not None] + [self.tokenizer.eos_token_id])
        pad = self.tokenizer.pad_token_id
        self.pad_id = pad if pad is not None else self.tokenizer.eos_token_id

    @classmethod
    def load(cls, model_path: str, dtype: str = "float32", batch_size: int = 32,
             device: str = "cpu") -> HFEngine:
        """Load a model folder; float32 on CPU (bfloat16 has no fast path on most CPUs)."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(model_path)
        model = AutoModelForCausalLM.from_pretrained(model_path, dtype=getattr(torch, dtype))
        return cls(model.to(device), tokenizer, batch_size=batch_size)

    # -- generate -----------------------------------------------------------------------
    @torch.inference_mode()
    def generate(self, requests: Sequence[GenerateRequest]) -> list[GenerateResult]:
        with self._timed("generate"):
            rows = []  # (request index, sample index)
            for i, r in enumerate(requests):
                if r.temperature <= 0 and r.n != 1:
                    raise ValueError(f"greedy request {i} asks for n={r.n} samples")
                rows += [(i, j) for j in range(r.n)]
            # similar lengths together: less padding
            rows.sort(key=lambda ij: len(requests[ij[0]].prompt))
            raw: dict[tuple[int, int], tuple[list[int], bool, list[float], float | None]] = {}
            prefills = [0] * len(requests)  # times each prompt was actually computed
            for k in range(0, len(rows), self.batch_size):
                chunk = rows[k:k + self.batch_size]
                for i in {i for i, _ in chunk}:
                    prefills[i] += 1
                raw.update(zip(chunk, self._decode_chunk(requests, chunk), strict=True))
            results = []
            for i, r in enumerate(requests):
                comps = tuple(replace(self.trim(raw[(i, j)][0], r.stop, raw[(i, j)][1],
                                                raw[(i, j)][2] if r.token_logprobs else ()),
                                      entropy=raw[(i, j)][3])
                              for j in range(r.n))
                cached = len(r.prompt) * (r.n - prefills[i])
                results.append(GenerateResult(comps, prompt_tokens=len(r.prompt) * r.n,
                                              cached_tokens=cached, decoded_tokens=sum(
                                                  len(raw[(i, j)][0]) for j in range(r.n))))
                self.counters.prompt_tokens += len(r.prompt) * r.n
                self.counters.cached_tokens += cached
            return results

    def _decode_chunk(self, requests: Sequence[GenerateRequest],
                      chunk: list[tuple[int, int]]
                      ) -> list[tuple[list[int], bool, list[float], float | None]]:
        reqs = [requests[i] for i, _ in chunk]
        gens = []
        for (_, j), r in zip(chunk, reqs, strict=True):
            g = None
            if r.temperature > 0:
                g = torch.Generator()
                g.manual_seed(r.seed + j if r.seed is not None else int(torch.seed() % 2**62))
            gens.append(g)
        # the n samples of a request share its prompt: compute it once, then copy its KV rows
        uniq = sorted({i for i, _ in chunk})
        prompts = [requests[i].prompt for i in uniq]
        width = max(len(p) for p in prompts)
        ids = torch.full((len(prompts), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(prompts), width), dtype=torch.long)
        for b, p in enumerate(prompts):  # left padding: every row's next token is at the end
            ids[b, width - len(p):] = torch.tensor(p)
            mask[b, width - len(p):] = 1
        pos = (mask.cumsum(-1) - 1).clamp(min=0)
        # logits_to_keep=1: only the last position's logits are needed, and the vocabulary
        # projection of every prompt position would cost as much as the model itself
        out = self.model(input_ids=ids.to(self.device), attention_mask=mask.to(self.device),
                         position_ids=pos.to(self.device), use_cache=True, logits_to_keep=1)
        rows = torch.tensor([uniq.index(i) for i, _ in chunk])
        past = out.past_key_values
        past.batch_select_indices(rows.to(self.device))
        logits = out.logits[:, -1, :].float().cpu()[rows]
        mask, pos = mask[rows], pos[rows]
        last_pos = pos[:, -1]
        outs: list[list[int]] = [[] for _ in reqs]
        lps: list[list[float]] = [[] for _ in reqs]  # raw log-probs, where asked for
        # the first token's entropy over the whole vocabulary, in float64, where asked for
        ents: list[float | None] = [None] * len(reqs)
        for b, r in enumerate(reqs):
            if r.entropy:
                ents[b] = entropy_bits(torch.log_softmax(logits[b].double(), dim=-1).numpy())
        want_lps = [r.token_logprobs for r in reqs]
        done = [r.max_tokens <= 0 for r in reqs]
        ended = [False] * len(reqs)
        stop_len = max([len(s) for r in reqs for s in r.stop] + [0])
        while not all(done):
            live = [b for b in range(len(reqs)) if not done[b]]
            picked = _sample_rows(logits, reqs, gens, live)
            rows = [b for b in live if want_lps[b]]
            if rows:
                lsm = torch.log_softmax(logits[rows], dim=-1)
                for k, b in enumerate(rows):
                    lps[b].append(float(lsm[k, picked[b]]))
            nxt = []
            for b, r in enumerate(reqs):
                if done[b]:
                    nxt.append(self.pad_id)
                    continue
                t = picked[b]
                outs[b].append(t)
                self.counters.decode_tokens += 1
                nxt.append(t)
                if t in self.eos_token_ids or (r.stop and self._hit_stop(outs[b], r.stop,
                                                                          stop_len)):
                    done[b] = ended[b] = True
                elif len(outs[b]) >= r.max_tokens:
                    done[b] = True
            if all(done):
                break
            mask = torch.cat([mask, torch.ones((len(reqs), 1), dtype=torch.long)], dim=1)
            last_pos = last_pos + 1
            out = self.model(input_ids=torch.tensor(nxt)[:, None].to(self.device),
                             attention_mask=mask.to(self.device),
                             position_ids=last_pos[:, None].to(self.device),
                             past_key_values=past, use_cache=True)
            past, logits = out.past_key_values, out.logits[:, -1, :].float().cpu()
        return list(zip(outs, ended, lps, ents, strict=True))

    def _hit_stop(self, ids: list[int], stop: Sequence[str], stop_len: int) -> bool:
        # a stop string spans at most stop_len tokens; decode only that tail
        tail = self.decode(ids[-(stop_len + 1):])
        return any(s and s in tail for s in stop)

    # -- score --------------------------------------------------------------------------
    @torch.inference_mode()
    def score(self, requests: Sequence[ScoreRequest]) -> list[ScoreResult]:
        with self._timed("score"):
            groups: dict[tuple[int, ...], list[int]] = {}
            for i, r in enumerate(requests):
                if not r.prefix or not r.suffix:
                    raise ValueError(f"score request {i} has an empty prefix or suffix")
                groups.setdefault(r.prefix, []).append(i)
            results: list[ScoreResult | None] = [None] * len(requests)
            for prefix, members in groups.items():
                for k in range(0, len(members), self.batch_size):
                    part = members[k:k + self.batch_size]
                    logps = self._score_group(prefix, [requests[i].suffix for i in part])
                    for n, (i, lp) in enumerate(zip(part, logps, strict=True)):
                        cached = len(prefix) if (k + n) > 0 else 0
                        total = len(prefix) + len(requests[i].suffix)
                        results[i] = ScoreResult(lp, prompt_tokens=total, cached_tokens=cached)
                        self.counters.prompt_tokens += total
                        self.counters.cached_tokens += cached
            return results  # type: ignore[return-value]

    def _score_group(self, prefix: tuple[int, ...], suffixes: list[tuple[int, ...]]) -> list[float]:
        """Run the prefix once, then all suffixes as one right-padded batch on its KV cache."""
        out = self.model(input_ids=torch.tensor([prefix], device=self.device), use_cache=True,
                         logits_to_keep=1)
        first = torch.log_softmax(out.logits[0, -1].float(), dim=-1).cpu()
        logps = [float(first[s[0]]) for s in suffixes]
        rest = [s[1:] for s in suffixes]
        width = max(len(s) for s in rest)
        if width == 0:
            return logps
        past = out.past_key_values
        past.batch_repeat_interleave(len(suffixes))
        # inputs are suffix[:-1]; the logits at position t predict suffix[t+1]
        inp = torch.full((len(suffixes), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(suffixes), len(prefix) + width), dtype=torch.long)
        mask[:, :len(prefix)] = 1
        for b, s in enumerate(suffixes):
            inp[b, :len(s) - 1] = torch.tensor(s[:-1], dtype=torch.long)
            mask[b, len(prefix):len(prefix) + len(s) - 1] = 1
        pos = torch.arange(len(prefix), len(prefix) + width)[None].expand(len(suffixes), -1)
        out = self.model(input_ids=inp.to(self.device), attention_mask=mask.to(self.device),
                         position_ids=pos.to(self.device), past_key_values=past, use_cache=True)
        lsm = torch.log_softmax(out.logits.float(), dim=-1).cpu()
        for b, s in enumerate(rest):
            logps[b] += float(sum(lsm[b, t, tok] for t, tok in enumerate(s)))
        return logps

