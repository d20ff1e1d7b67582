"""The bridge between lm-eval's generation requests and the scalers.

`scaler_from_gen_kwargs` turns one task's gen_kwargs into a scaler, the stop strings, the token
limit and the main decoding; `ScalingMixin` gives an lm-eval model class a `generate_until` that
routes through it whenever `scale_func_name` is present and is the parent class's own otherwise.

Scaler keys never reach vLLM's SamplingParams or transformers' generate: they are consumed here.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eigscale.engines.base import Engine
from eigscale.grading import Response
from eigscale.params import ParamError
from eigscale.records import QuestionRecord, summarise
from eigscale.scalers import SCALERS, Decoding, Scaler, make_scaler

SWITCH = "scale_func_name"
# lm-eval's own generation keys (lm_eval.models.utils.normalize_gen_kwargs gives them their
# meaning: aliases of max_gen_toks, do_sample=False -> greedy whatever the temperature)
LM_EVAL_KEYS = ("until", "max_gen_toks", "max_new_tokens", "max_tokens",
                "max_completion_tokens", "do_sample", "temperature", "top_p")
log = logging.getLogger("eigscale")


@dataclass
class ScalerJob:
    """What one task's gen_kwargs ask for."""

    scaler: Scaler
    until: list[str]
    max_gen_toks: int
    decoding: Decoding


def all_scaler_keys() -> set[str]:
    keys = {SWITCH, "thinking_format"}
    for cls in SCALERS.values():
        keys |= set(cls.params_class.names())
    return keys


def scaler_from_gen_kwargs(gen_kwargs: Mapping[str, Any], default_max_gen_toks: int,
                           source: str = "--gen_kwargs") -> ScalerJob:
    """Split gen_kwargs into lm-eval's keys (normalised by lm-eval itself) and the scaler's
    (validated by `make_scaler`, the one place that checks scaler names and parameters: a
    ParamError names any unknown key)."""
    from lm_eval.models.utils import normalize_gen_kwargs

    kw = dict(gen_kwargs)
    name = kw.pop(SWITCH)
    cls = SCALERS.get(name)
    own = set(cls.params_class.names()) if cls else set()
    # EIG's temperature/top_p are its own sampling knobs (the seed's): not lm-eval's
    lm = {k: kw.pop(k) for k in list(kw) if k in LM_EVAL_KEYS and k not in own}
    norm = normalize_gen_kwargs(lm, default_max_gen_toks)
    scaler = make_scaler(name, kw, source=source)
    if "temperature" in own:
        # the main reasoning decodes greedily, like the greedy baselines it is compared with
        if lm.get("do_sample"):
            warnings.warn(f"{source}: do_sample is ignored by {name}: its main reasoning is "
                          "greedy; temperature/top_p set its candidate and MC sampling",
                          stacklevel=2)
        decoding = Decoding()
    else:
        temperature = float(norm.get("temperature", 0.0))
        decoding = Decoding(temperature=temperature,
                            top_p=float(norm.get("top_p", 1.0)) if temperature > 0 else 1.0)
    return ScalerJob(scaler, list(norm["until"]), int(norm["max_gen_toks"]), decoding)


def check_gen_kwargs(gen_kwargs: Mapping[str, Any] | None, source: str = "--gen_kwargs") -> None:
    """Fail early (before any model loads) on gen_kwargs a scaler run would refuse."""
    gen_kwargs = dict(gen_kwargs or {})
    if SWITCH in gen_kwargs:
        scaler_from_gen_kwargs(gen_kwargs, 256, source)
        return
    stray = sorted(set(gen_kwargs) & (all_scaler_keys() - {"temperature", "top_p", "seed"}))
    if stray:
        raise ParamError(f"{source}: scaler key(s) {', '.join(map(repr, stray))} given without "
                         f"{SWITCH}; add {SWITCH}=<{'|'.join(SCALERS)}>")


def _append_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    """Append rows and fsync: a killed run keeps every row that was reported written."""
    with open(path, "a", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, default=float) + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_jsonl(path: Path | None) -> list[dict[str, Any]]:
    """Rows of a JSON-lines file written by `_append_jsonl`; a torn last line (the writer was
    killed mid-row) is cut off the file, so later appends start on a clean line."""
    if path is None or not path.exists():
        return []
    raw = path.read_bytes()
    keep = raw[: raw.rfind(b"\n") + 1]
    if len(keep) != len(raw):
        with open(path, "r+b") as f:
            f.truncate(len(keep))
    return [json.loads(line) for line in keep.decode("utf-8").splitlines() if line.strip()]


def write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=float), encoding="utf-8")
    os.replace(tmp, path)


def with_answer_kind(gen_kwargs: Mapping[str, Any], task: str) -> dict[str, Any]:
    """gen_kwargs with the task's answer equivalence for a scaler that takes one (EIG's
    classes are the grader's), unless the caller set it."""
    from eigscale.tasks import ANSWER_KIND

    out = dict(gen_kwargs)
    cls = SCALERS.get(out.get(SWITCH, ""))
    if cls and "answer_kind" in cls.params_class.names() and task in ANSWER_KIND:
        out.setdefault("answer_kind", ANSWER_KIND[task])
    return out


class ScalingMixin:
    """Mix into an lm-eval model class before the class itself (MRO: ours first).

    The class must provide `make_engine()` (our engine over its loaded model), `tok_encode`,
    `max_length` and `max_gen_toks`, as lm-eval's VLLM and HFLM do.
    """

    _records_dir: Path | None = None
    _engine: Engine | None = None
    _chunk: int = 0
    _replay: dict[str, ScalerJob] | None = None  # label -> job, for a replay sweep
    _replay_runs: dict[str, Any] | None = None  # label -> gen_kwargs, for a replay sweep
    _replay_run: str = ""

    def setup_scaling(self, records_dir: str | None, chunk: int = 0) -> None:
        """records_dir: where per-question records are appended as chunks finish (a rerun
        with the same folder skips the questions already there). chunk: questions per scaler
        batch and durable checkpoint; 0 = the whole task in one batch."""
        self._records_dir = Path(records_dir) if records_dir else None
        if self._records_dir:
            self._records_dir.mkdir(parents=True, exist_ok=True)
        self._chunk = int(chunk)
        if not log.handlers:  # progress lines on stderr; lm-eval configures only its own logger
            handler = logging.StreamHandler()
            handler.setFormatter(logging.Formatter("[eigscale] %(message)s"))
            log.addHandler(handler)
            log.setLevel(logging.INFO)
            log.propagate = False  # lm-eval may give the root logger a handler: print once

    def make_engine(self) -> Engine:
        raise NotImplementedError

    def generate_until(self, requests: list, disable_tqdm: bool = False) -> list[str]:
        if not any(SWITCH in r.args[1] for r in requests):
            return super().generate_until(requests, disable_tqdm)  # type: ignore[misc]
        groups: dict[tuple[str, str], list[int]] = {}
        for i, r in enumerate(requests):
            key = (str(r.task_name), json.dumps(r.args[1], sort_keys=True, default=str))
            groups.setdefault(key, []).append(i)
        out: list[str] = [""] * len(requests)
        for (task, _), idx in groups.items():
            reqs = [requests[i] for i in idx]
            if SWITCH in reqs[0].args[1]:
                texts = self._scale(task, reqs)
            else:
                texts = super().generate_until(reqs, disable_tqdm)  # type: ignore[misc]
            for i, text in zip(idx, texts, strict=True):
                out[i] = text
        return out

    def setup_replay(self, runs: Mapping[str, Mapping[str, Any]]) -> None:
        """Make this model answer the runs of a replay sweep ({label: gen_kwargs}) from one
        trace per question (eigscale.replay): whichever run is evaluated first computes them
        all; `use_run(label)` says which one the next generate_until belongs to. Records go
        to <records>/<label>/. Raises ParamError (ReplayError) if they cannot be replayed."""
        from eigscale.replay import check_replayable

        self._replay_runs = dict(runs)
        jobs = {label: scaler_from_gen_kwargs(gk, self.max_gen_toks,  # type: ignore[attr-defined]
                                              f"run {label}") for label, gk in runs.items()}
        first = next(iter(jobs.values()))
        check_replayable([j.scaler for j in jobs.values()], first.decoding)  # type: ignore[arg-type]
        self._replay = jobs

    def use_run(self, label: str) -> None:
        if label not in (self._replay or {}):
            raise KeyError(f"{label!r} is not a run of this replay sweep")
        self._replay_run = label

    def _paths(self, task: str, label: str) -> tuple[Path | None, Path | None]:
        if not self._records_dir:
            return None, None
        folder = self._records_dir / label if label else self._records_dir
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"decisions_{task}.jsonl", folder / f"chunks_{task}.jsonl"

    def _scale(self, task: str, reqs: list) -> list[str]:
        job = scaler_from_gen_kwargs(with_answer_kind(reqs[0].args[1], task),
                                     self.max_gen_toks)  # type: ignore[attr-defined]
        jobs, label = {"": job}, ""
        if self._replay:
            jobs = {lb: scaler_from_gen_kwargs(with_answer_kind(gk, task), self.max_gen_toks,  # type: ignore[attr-defined]
                                               f"run {lb}")
                    for lb, gk in self._replay_runs.items()}
            label = self._replay_run
            if jobs[label].scaler.params != job.scaler.params:
                raise ParamError(f"replay: the gen_kwargs evaluated are not run {label!r}'s")
        if self._engine is None:
            self._engine = self.make_engine()
        paths = {lb: self._paths(task, lb) for lb in jobs}
        wanted = {r.doc_id for r in reqs}
        done = {lb: {row["doc_id"]: row for row in read_jsonl(store) if row["doc_id"] in wanted}
                for lb, (store, _) in paths.items()}
        chunk_rows = {lb: read_jsonl(chunks) for lb, (_, chunks) in paths.items()}
        # a chunk is computed for every run of a replay sweep at once; what the run being
        # evaluated lacks is recomputed (and appended to the others only where they lack it)
        todo = [r for r in reqs if r.doc_id not in done[label]]
        log.info("%s: %d questions through %s%s%s", task, len(reqs), job.scaler.name,
                 f" (replay of {len(jobs)} runs)" if self._replay else "",
                 f" ({len(reqs) - len(todo)} already done{'' if self._replay else ', resuming'})"
                 if len(todo) < len(reqs) else "")
        # whole prompts, never cut; the budget is derived once for the whole task (every
        # chunk and every run gets the same), before any engine call
        prompts = {r.doc_id: self.tok_encode(r.args[0]) for r in reqs}  # type: ignore[attr-defined]
        plans = {lb: j.scaler.plan(self._engine, list(prompts.values()), j.max_gen_toks,
                                   [f"{task} doc {d}" for d in prompts])
                 for lb, j in jobs.items()}
        gen_budget = min(p.gen_budget for p in plans.values())
        if plans[label].derived:
            plan = plans[label]
            log.warning("%s: max_gen_toks=%d does not fit max_model_len=%d after the longest "
                        "prompt (%d tokens, %s): the generation budget is %d (recorded under "
                        "lengths)", task, plan.max_gen_toks, plan.max_model_len,
                        plan.longest_prompt, plan.longest_prompt_id, plan.gen_budget)
        size = self._chunk or max(1, len(todo))
        for k in range(0, len(todo), size):
            part = todo[k:k + size]
            batch = [prompts[r.doc_id] for r in part]
            if self._replay:
                from eigscale.replay import replay

                results = dict(zip(jobs, replay(self._engine, [j.scaler for j in jobs.values()],
                                                batch, gen_budget, job.decoding,
                                                job.until), strict=True))
            else:
                results = {"": job.scaler.run(self._engine, batch, gen_budget,
                                              job.decoding, job.until)}
            for lb, result in results.items():
                result.summary["lengths"] = plans[lb].to_dict()
            for lb, result in results.items():
                rows = [{"task": task, "doc_id": r.doc_id, "response": text, **rec.to_dict()}
                        for r, rec, text in zip(part, result.records, result.texts, strict=True)
                        if r.doc_id not in done[lb]]
                if not rows:  # this run had the whole chunk already (an interrupted append)
                    continue
                info = {k: v for k, v in result.summary.items()
                        if k in ("scaler", "budget", "params", "seconds", "engine", "replay",
                                 "lengths")}
                info["questions"] = len(rows)
                store, chunks = paths[lb]
                if store and chunks:
                    _append_jsonl(store, rows)
                    _append_jsonl(chunks, [info])
                chunk_rows[lb].append(info)
                done[lb].update((row["doc_id"], row) for row in rows)
            log.info("%s: %d/%d questions done", task, len(done[label]), len(reqs))
        return self._finish(task, reqs, done[label], chunk_rows[label], len(reqs) - len(todo),
                            paths[label][0], getattr(job.scaler.params, "thinking_end", None))

    def _finish(self, task: str, reqs: list, done: dict, chunk_rows: list[dict], resumed: int,
                store: Path | None, thinking_end: str | None) -> list[str]:
        """The run summary (written beside the records) and the responses, as `Response`s
        that tell the grader where this run's thinking ends."""
        records = [QuestionRecord.from_dict(done[r.doc_id]) for r in reqs]
        summary = summarise(records, _add_up(c["seconds"] for c in chunk_rows),
                            _add_up(c["engine"] for c in chunk_rows))
        summary.update({k: chunk_rows[-1][k] for k in ("scaler", "budget", "params", "replay",
                                                        "lengths")
                        if k in chunk_rows[-1]})
        summary["resumed_questions"] = resumed
        summary["thinking_tokens_per_question"] = {
            str(r.doc_id): rec.thinking_tokens for r, rec in zip(reqs, records, strict=True)}
        if store:
            write_json_atomic(store.parent / f"summary_{task}.json", summary)
        texts = [Response(done[r.doc_id]["response"], thinking_end) for r in reqs]
        for r, text in zip(reqs, texts, strict=True):
            self.cache_hook.add_partial("generate_until", r.args, text)  # type: ignore[attr-defined]
        return texts


def _add_up(dicts) -> dict[str, float]:
    total: dict[str, float] = {}
    for d in dicts:
        for k, v in d.items():
            total[k] = total.get(k, 0) + v
    return total
