"""The lm-eval model mixin: `generate_until` through a scaler whenever gen_kwargs name one.

`ScalingMixin` gives an lm-eval model class a `generate_until` that routes through the scaler
named by `scale_func_name` and is the parent class's own otherwise. Finished questions are
appended to a records folder as they finish; a rerun with the same folder resumes.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from eigscale.engines.base import Engine
from eigscale.errors import ParamError
from eigscale.grading import Response
from eigscale.jsonio import append_jsonl, read_jsonl, write_json_atomic
from eigscale.lmeval.gen_kwargs import SWITCH, ScalerJob, scaler_from_gen_kwargs, with_answer_kind
from eigscale.records import QuestionRecord, summarise
from eigscale.scalers.budget_forcing import BudgetForcing

log = logging.getLogger("eigscale")


class LMHost(Protocol):
    """What `ScalingMixin` needs of the lm-eval model class it is mixed into (lm-eval's
    `TemplateLM` subclasses VLLM and HFLM have all of it)."""

    max_gen_toks: int
    cache_hook: Any  # lm-eval's CacheHook: add_partial(method, args, result)

    def tok_encode(self, string: str) -> list[int]:
        """The token ids of a prompt, as the model class encodes it for generation."""
        ...

    def generate_until(self, requests: list, disable_tqdm: bool = False) -> list[str]:
        """lm-eval's own generation: one string per request."""
        ...


# type checkers see the host's attributes on the mixin; at run time it adds no base class
_Host = LMHost if TYPE_CHECKING else object


class ScalingMixin(_Host):
    """Mix into an lm-eval model class before the class itself (MRO: ours first).

    The class must provide `make_engine()` (our engine over its loaded model) and what
    `LMHost` lists, as lm-eval's VLLM and HFLM do.
    """

    _records_dir: Path | None = None
    _engine: Engine | None = None
    _chunk: int = 0
    _replay: dict[str, ScalerJob] | None = None  # label -> job, for a replay sweep
    _replay_runs: dict[str, Any] | None = None  # label -> gen_kwargs, for a replay sweep
    _replay_run: str = ""
    _oracle_step: int = 0  # > 0: answer at every cut of the trace (eigscale.scalers.oracle)

    def setup_scaling(self, records_dir: str | None, chunk: int = 0) -> None:
        """Start a new evaluation, live (no replay sweep, no oracle grid, until set up).
        records_dir: where per-question records are appended as chunks finish (a rerun
        with the same folder skips the questions already there). chunk: questions per scaler
        batch and durable checkpoint; 0 = the whole task in one batch."""
        self._replay = self._replay_runs = None
        self._oracle_step = 0
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
            return super().generate_until(requests, disable_tqdm)
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
                texts = super().generate_until(reqs, disable_tqdm)
            for i, text in zip(idx, texts, strict=True):
                out[i] = text
        return out

    def setup_replay(self, runs: Mapping[str, Mapping[str, Any]]) -> None:
        """Make this model answer the runs of a replay sweep ({label: gen_kwargs}) from one
        trace per question (eigscale.scalers.replay): whichever run is evaluated first computes them
        all; `use_run(label)` says which one the next generate_until belongs to. Records go
        to <records>/<label>/. Raises ParamError (ReplayError) if they cannot be replayed."""
        from eigscale.scalers.replay import check_replayable

        self._replay_runs = dict(runs)
        jobs = {label: scaler_from_gen_kwargs(gk, self.max_gen_toks,
                                              f"run {label}") for label, gk in runs.items()}
        first = next(iter(jobs.values()))
        check_replayable([j.scaler for j in jobs.values()], first.decoding)
        self._replay = jobs

    def setup_oracle(self, step: int) -> None:
        """Make the next budget_forcing evaluation the oracle grid's: one trace per question,
        the answer forced at every `step` tokens of it and at its end. lm-eval grades the
        end's answer; every cut's is appended to <records>/grid_<task>.jsonl (a rerun with
        the same folder resumes)."""
        if step < 1:
            raise ParamError(f"oracle step must be >= 1, not {step}", param="oracle_step",
                             value=step)
        self._oracle_step = int(step)

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
                                     self.max_gen_toks)
        jobs, label = {"": job}, ""
        if self._replay:
            jobs = {lb: scaler_from_gen_kwargs(with_answer_kind(gk, task), self.max_gen_toks,
                                               f"run {lb}")
                    for lb, gk in self._replay_runs.items()}
            label = self._replay_run
            if jobs[label].scaler.params != job.scaler.params:
                raise ParamError(f"replay: the gen_kwargs evaluated are not run {label!r}'s")
        if self._engine is None:
            self._engine = self.make_engine()
        if self._oracle_step:
            return self._grid(task, reqs, job)
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
        prompts = {r.doc_id: self.tok_encode(r.args[0]) for r in reqs}
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
                from eigscale.scalers.replay import replay

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
                    append_jsonl(store, rows)
                    append_jsonl(chunks, [info])
                chunk_rows[lb].append(info)
                done[lb].update((row["doc_id"], row) for row in rows)
            log.info("%s: %d/%d questions done", task, len(done[label]), len(reqs))
        # what a chunk's counters would have said of the run, should none have been kept
        known = {"scaler": jobs[label].scaler.name, "params": jobs[label].scaler.params.to_dict(),
                 "lengths": plans[label].to_dict()}
        return self._finish(task, reqs, done[label], chunk_rows[label] or [known],
                            len(reqs) - len(todo), paths[label][0],
                            getattr(job.scaler.params, "thinking_end", None))

    def _grid(self, task: str, reqs: list, job: ScalerJob) -> list[str]:
        """The oracle grid of these requests (see setup_oracle); the trace ends' answers."""
        from eigscale.scalers.oracle import oracle_grid

        if not isinstance(job.scaler, BudgetForcing):
            raise ParamError(f"the oracle's trace is a budget_forcing run's, not "
                             f"{job.scaler.name}'s", param="scale_func_name",
                             value=job.scaler.name)
        store = self._records_dir / f"grid_{task}.jsonl" if self._records_dir else None
        rows = read_jsonl(store) if store else []
        done = {row["doc_id"] for row in rows}
        todo = [r for r in reqs if r.doc_id not in done]
        log.info("%s: oracle grid every %d thinking tokens for %d questions (%d already "
                 "done)", task, self._oracle_step, len(reqs), len(reqs) - len(todo))
        prompts = {r.doc_id: self.tok_encode(r.args[0]) for r in reqs}
        plan = job.scaler.plan(self._engine, list(prompts.values()), job.max_gen_toks,
                               [f"{task} doc {d}" for d in prompts])
        size = self._chunk or max(1, len(todo))
        for k in range(0, len(todo), size):
            part = todo[k:k + size]
            ctx, cuts = oracle_grid(self._engine, job.scaler,
                                    [prompts[r.doc_id] for r in part], plan.gen_budget,
                                    self._oracle_step, job.decoding, job.until)
            # prompt_tokens as the rules' records count them: with the thinking start
            new = [{"task": task, "doc_id": r.doc_id, "prompt_tokens": len(t.prompt),
                    **dataclasses.asdict(c)}
                   for r, t, per_question in zip(part, ctx.thoughts, cuts, strict=True)
                   for c in per_question]
            if store:
                append_jsonl(store, new)
            rows += new
            log.info("%s: oracle grid %d/%d questions done", task,
                     len(reqs) - len(todo) + k + len(part), len(reqs))
        ends = {row["doc_id"]: row["text"] for row in rows if row["t"] == row["end"]}
        # each text opens with the forced tail, so the grader's answer section is the answer
        texts = [Response(ends[r.doc_id], job.scaler.params.thinking_end) for r in reqs]
        for r, text in zip(reqs, texts, strict=True):
            self.cache_hook.add_partial("generate_until", r.args, text)
        return texts

    def _finish(self, task: str, reqs: list, done: dict, chunk_rows: list[dict], resumed: int,
                store: Path | None, thinking_end: str | None) -> list[str]:
        """The run summary (written beside the records) and the responses, as `Response`s
        that tell the grader where this run's thinking ends."""
        records = [QuestionRecord.from_dict(done[r.doc_id]) for r in reqs]
        summary = summarise(records, _add_up(c.get("seconds", {}) for c in chunk_rows),
                            _add_up(c.get("engine", {}) for c in chunk_rows))
        summary.update({k: chunk_rows[-1][k] for k in ("scaler", "budget", "params", "replay",
                                                        "lengths")
                        if k in chunk_rows[-1]})
        summary["resumed_questions"] = resumed
        # a kill between a chunk's records and its counters (two appends) keeps the records
        # and loses that chunk's engine counters and seconds: say so, never undercount quietly
        uncounted = len(records) - sum(int(c.get("questions", 0)) for c in chunk_rows)
        if uncounted > 0:
            log.warning("%s: the engine counters and seconds of %d questions were lost by an "
                        "interruption (recorded as uncounted_questions)", task, uncounted)
            summary["uncounted_questions"] = uncounted
        summary["thinking_tokens_per_question"] = {
            str(r.doc_id): rec.thinking_tokens for r, rec in zip(reqs, records, strict=True)}
        if store:
            write_json_atomic(store.parent / f"summary_{task}.json", summary)
        texts = [Response(done[r.doc_id]["response"], thinking_end) for r in reqs]
        for r, text in zip(reqs, texts, strict=True):
            self.cache_hook.add_partial("generate_until", r.args, text)
        return texts


def _add_up(dicts) -> dict[str, float]:
    total: dict[str, float] = {}
    for d in dicts:
        for k, v in d.items():
            total[k] = total.get(k, 0) + v
    return total
