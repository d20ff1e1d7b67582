"""One task's questions through a scaler, in one of three modes, over one resume-and-chunk loop.

- `LiveJob`: the scaler runs the questions (eigscale-eval; every `evaluate` job of the workflow).
- `ReplayJob`: every run of a replay sweep answered from one trace per question
  (eigscale.scalers.replay). lm-eval evaluates one run at a time; the first computes all of
  them and keeps the others' records for their own evaluations.
- `GridJob`: the oracle grid's trace, its answer forced at every cut (eigscale.scalers.cut_grid).

Every job skips the questions its records folder already holds (a rerun resumes), answers the
others `chunk` at a time, appending each chunk to the records as it finishes, and returns one
response per request, as a `Response` that tells the grader where the thinking ends. Which job
answers is the model's mode (`Live`, `Replay`, `Grid`), set before lm-eval evaluates.
"""

from __future__ import annotations

import dataclasses
import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from eigscale.engines.base import Engine
from eigscale.errors import ParamError
from eigscale.grading import Response
from eigscale.jsonio import append_jsonl, read_jsonl, write_json_atomic
from eigscale.lmeval.gen_kwargs import (
    ScalerJob,
    scaler_from_gen_kwargs,
    with_answer_kind,
    with_model_decoding,
)
from eigscale.lmeval.run_folder import RecordsFolder
from eigscale.records import QuestionRecord, summarise
from eigscale.scalers.base import GREEDY, Decoding, ScalerOutput
from eigscale.scalers.budget_forcing import BudgetForcing
from eigscale.scalers.cut_grid import oracle_grid
from eigscale.scalers.replay import check_replayable, replay

log = logging.getLogger("eigscale")

# what a chunk's summary keeps for the run summary (the rest is recomputed from the records)
CHUNK_KEYS = ("scaler", "budget", "params", "seconds", "engine", "replay", "lengths")


@dataclass(frozen=True)
class Live:
    """Each evaluation runs its own gen_kwargs' scaler."""


@dataclass
class Replay:
    """The evaluations are the runs of one replay sweep ({label: gen_kwargs}); `current` is
    the one lm-eval evaluates next."""

    runs: dict[str, dict[str, Any]]
    current: str = ""


@dataclass(frozen=True)
class Grid:
    """The next evaluation is the oracle grid's trace, cut every `step` thinking tokens, each
    forced answer at most `answer_cap` tokens (None: a live run's room)."""

    step: int
    answer_cap: int | None = None


Mode = Live | Replay | Grid


Trace = tuple[int, int]  # (doc_id, sample): one of a question's k traces


@dataclass
class Questions:
    """One task's requests (lm-eval Instances), their prompts' token ids by doc_id, and the
    number of traces per question: `samples` sampled traces each (1: one trace)."""

    task: str
    reqs: list
    prompts: dict[int, list[int]] = field(default_factory=dict)
    samples: int = 1

    @property
    def labels(self) -> list[str]:
        """How a LengthError names each prompt."""
        return [f"{self.task} doc {d}" for d in self.prompts]

    @property
    def traces(self) -> list[Trace]:
        """Every (doc_id, sample) to answer, question by question."""
        return [(r.doc_id, j) for r in self.reqs for j in range(self.samples)]

    def batch(self, part: list[Trace]) -> tuple[list[list[int]], list[int]]:
        """The prompts and sample indices of these traces (the scalers' `samples`)."""
        return [self.prompts[d] for d, _ in part], [j for _, j in part]


def trace_of(row: dict[str, Any]) -> Trace:
    """The (doc_id, sample) of a stored record or grid row (records from before samples: 0)."""
    return row["doc_id"], int(row.get("sample", 0))


class TaskJob(ABC):
    """The loop every mode shares: skip what is recorded, answer the rest chunk by chunk."""

    what = ""  # the progress lines' name for what is done

    def __init__(self, records: RecordsFolder | None, chunk: int) -> None:
        self.records, self.chunk = records, chunk

    def answer(self, engine: Engine, q: Questions) -> list[Response]:
        """One response per request of q, in order, from this engine (with k traces per
        question: the first trace's, carrying all k, see grading.Response); new traces'
        records appended to the records folder chunk by chunk."""
        self.engine = engine
        todo = self.start(q)
        size = self.chunk or max(1, len(todo))
        for k in range(0, len(todo), size):
            self.compute(q, todo[k:k + size])
            log.info("%s: %s%d/%d %s done", q.task, self.what, self.done_count(),
                     len(q.traces), "traces" if q.samples > 1 else "questions")
        return self.finish(q)

    @abstractmethod
    def start(self, q: Questions) -> list:
        """Read what the records hold, plan the lengths (LengthError before any engine
        call); return the requests still to answer."""

    @abstractmethod
    def compute(self, q: Questions, part: list) -> None:
        """Answer these requests and append their records."""

    @abstractmethod
    def done_count(self) -> int:
        """Traces of the task answered so far, resumed ones included."""

    @abstractmethod
    def finish(self, q: Questions) -> list[Response]:
        """The responses, once every question is answered."""


class RulesJob(TaskJob):
    """Live and replay: a set of runs {label: ScalerJob} answered together, the evaluated one
    `label` ("" live)."""

    def __init__(self, records: RecordsFolder | None, chunk: int,
                 runs: dict[str, ScalerJob], label: str) -> None:
        super().__init__(records, chunk)
        self.runs, self.label = runs, label

    @abstractmethod
    def results(self, batch: list[list[int]], samples: list[int], gen_budget: int
                ) -> dict[str, ScalerOutput]:
        """Every run's output for these prompts (these sampled traces of them)."""

    def folder(self, label: str) -> RecordsFolder | None:
        if not self.records:
            return None
        folder = self.records.run(label)
        folder.path.mkdir(parents=True, exist_ok=True)
        return folder

    def start(self, q: Questions) -> list:
        task, job = q.task, self.runs[self.label]
        self.folders = {lb: self.folder(lb) for lb in self.runs}
        wanted = set(q.traces)
        self.done = {lb: {trace_of(row): row for row in read_jsonl(f and f.decisions(task))
                          if trace_of(row) in wanted} for lb, f in self.folders.items()}
        self.chunk_rows = {lb: read_jsonl(f and f.chunks(task)) for lb, f in self.folders.items()}
        # a chunk is computed for every run of a replay sweep at once; what the run being
        # evaluated lacks is recomputed (and appended to the others only where they lack it)
        todo = [k for k in q.traces if k not in self.done[self.label]]
        replaying = bool(self.label)
        n = len(q.traces)
        log.info("%s: %d questions%s through %s%s%s", task, len(q.reqs),
                 f" x {q.samples} sampled traces" if q.samples > 1 else "", job.scaler.name,
                 f" (replay of {len(self.runs)} runs)" if replaying else "",
                 f" ({n - len(todo)} already done{'' if replaying else ', resuming'})"
                 if len(todo) < n else "")
        self.resumed = n - len(todo)
        # whole prompts, never cut; the budget is derived once for the whole task (every
        # chunk and every run gets the same), before any engine call
        prompts = list(q.prompts.values())
        self.plans = {lb: j.scaler.plan(self.engine, prompts, j.max_gen_toks, q.labels)
                      for lb, j in self.runs.items()}
        self.gen_budget = min(p.gen_budget for p in self.plans.values())
        plan = self.plans[self.label]
        if plan.derived:
            log.warning("%s: max_gen_toks=%d does not fit max_model_len=%d after the longest "
                        "prompt (%d tokens, %s): the generation budget is %d (recorded under "
                        "lengths)", task, plan.max_gen_toks, plan.max_model_len,
                        plan.longest_prompt, plan.longest_prompt_id, plan.gen_budget)
        return todo

    def compute(self, q: Questions, part: list) -> None:
        results = self.results(*q.batch(part), self.gen_budget)
        for lb, result in results.items():
            result.summary["lengths"] = self.plans[lb].to_dict()
            rows = [{"task": q.task, "doc_id": d, "response": text, **rec.to_dict()}
                    for (d, _), rec, text in zip(part, result.records, result.texts, strict=True)
                    if (d, rec.sample) not in self.done[lb]]
            if not rows:  # this run had the whole chunk already (an interrupted append)
                continue
            info = {k: v for k, v in result.summary.items() if k in CHUNK_KEYS}
            info["questions"] = len(rows)
            if folder := self.folders[lb]:
                append_jsonl(folder.decisions(q.task), rows)
                append_jsonl(folder.chunks(q.task), [info])
            self.chunk_rows[lb].append(info)
            self.done[lb].update((trace_of(row), row) for row in rows)

    def done_count(self) -> int:
        return len(self.done[self.label])

    def finish(self, q: Questions) -> list[Response]:
        """The run summary (written beside the records) and the responses."""
        job = self.runs[self.label]
        done, chunk_rows = self.done[self.label], self.chunk_rows[self.label]
        # what a chunk's counters would have said of the run, should none have been kept
        chunk_rows = chunk_rows or [{"scaler": job.scaler.name,
                                     "params": job.scaler.params.to_dict(),
                                     "lengths": self.plans[self.label].to_dict()}]
        records = [QuestionRecord.from_dict(done[k]) for k in q.traces]
        summary = summarise(records, _add_up(c.get("seconds", {}) for c in chunk_rows),
                            _add_up(c.get("engine", {}) for c in chunk_rows))
        summary.update({k: chunk_rows[-1][k] for k in ("scaler", "budget", "params", "replay",
                                                        "lengths")
                        if k in chunk_rows[-1]})
        summary["resumed_questions"] = self.resumed
        # a kill between a chunk's records and its counters (two appends) keeps the records
        # and loses that chunk's engine counters and seconds: say so, never undercount quietly
        uncounted = len(records) - sum(int(c.get("questions", 0)) for c in chunk_rows)
        if uncounted > 0:
            log.warning("%s: the engine counters and seconds of %d questions were lost by an "
                        "interruption (recorded as uncounted_questions)", q.task, uncounted)
            summary["uncounted_questions"] = uncounted
        summary["samples"] = q.samples
        summary["thinking_tokens_per_question"] = {  # per trace: "<doc_id>" or "<doc>/<j>"
            trace_key(k): rec.thinking_tokens for k, rec in zip(q.traces, records, strict=True)}
        if folder := self.folders[self.label]:
            write_json_atomic(folder.summary(q.task), summary)
        return responses(q, {k: row["response"] for k, row in done.items()},
                         job.scaler.params)


class LiveJob(RulesJob):
    """The gen_kwargs' own scaler runs the questions."""

    def results(self, batch: list[list[int]], samples: list[int], gen_budget: int
                ) -> dict[str, ScalerOutput]:
        job = self.runs[self.label]
        return {self.label: job.scaler.run(self.engine, batch, gen_budget, job.decoding,
                                           job.until, samples)}


class ReplayJob(RulesJob):
    """Every run of a replay sweep from one trace per question."""

    def results(self, batch: list[list[int]], samples: list[int], gen_budget: int
                ) -> dict[str, ScalerOutput]:
        job = self.runs[self.label]
        outs = replay(self.engine, [j.scaler for j in self.runs.values()], batch, gen_budget,
                      job.decoding, job.until, samples)
        return dict(zip(self.runs, outs, strict=True))


class GridJob(TaskJob):
    """The oracle grid: one budget_forcing trace per question, the answer forced at every
    `step` tokens of it and at its end; every cut's answer appended to the records' grid file.
    lm-eval grades the trace ends' answers."""

    what = "oracle grid "

    def __init__(self, records: RecordsFolder | None, chunk: int, job: ScalerJob,
                 step: int, answer_cap: int | None = None) -> None:
        super().__init__(records, chunk)
        if not isinstance(job.scaler, BudgetForcing):
            raise ParamError(f"the oracle's trace is a budget_forcing run's, not "
                             f"{job.scaler.name}'s", param="scale_func_name",
                             value=job.scaler.name)
        self.job, self.step, self.answer_cap = job, step, answer_cap

    def start(self, q: Questions) -> list:
        self.store = self.records.grid(q.task) if self.records else None
        self.rows = read_jsonl(self.store)
        done = {trace_of(row) for row in self.rows}
        todo = [k for k in q.traces if k not in done]
        self.finished = len(q.traces) - len(todo)
        log.info("%s: oracle grid every %d thinking tokens for %d traces (%d already done)",
                 q.task, self.step, len(q.traces), self.finished)
        self.plan = self.job.scaler.plan(self.engine, list(q.prompts.values()),
                                         self.job.max_gen_toks, q.labels)
        return todo

    def compute(self, q: Questions, part: list) -> None:
        prompts, samples = q.batch(part)
        ctx, cuts = oracle_grid(self.engine, self.job.scaler, prompts, self.plan.gen_budget,
                                self.step, self.job.decoding, self.job.until,
                                self.answer_cap, samples)
        # prompt_tokens as the rules' records count them: with the thinking start
        new = [{"task": q.task, "doc_id": d, "sample": j, "prompt_tokens": len(t.prompt),
                **dataclasses.asdict(c)}
               for (d, j), t, per_question in zip(part, ctx.thoughts, cuts, strict=True)
               for c in per_question]
        if self.store:
            append_jsonl(self.store, new)
        self.rows += new
        self.finished += len(part)

    def done_count(self) -> int:
        return self.finished

    def finish(self, q: Questions) -> list[Response]:
        ends = {trace_of(row): row["text"] for row in self.rows if row["t"] == row["end"]}
        # each text opens with the forced tail, so the grader's answer section is the answer
        return responses(q, ends, self.job.scaler.params)


def trace_key(trace: Trace) -> str:
    """A trace's name in a summary: "<doc_id>", or "<doc_id>/<sample>" after the first."""
    return str(trace[0]) if not trace[1] else f"{trace[0]}/{trace[1]}"


def responses(q: Questions, texts: dict[Trace, str], params: Any) -> list[Response]:
    """One response per request: its question's first trace's, carrying all its k traces
    (grading.Response.samples) for the task's grader to grade one by one."""
    out = []
    for r in q.reqs:
        each = tuple(Response.of_run(texts[r.doc_id, j], params) for j in range(q.samples))
        first = Response.of_run(each[0], params)
        if q.samples > 1:
            first.samples = each
        out.append(first)
    return out


def check_mode(mode: Mode, max_gen_toks: int) -> None:
    """Raise ParamError now for a mode that cannot run (a sweep that cannot be replayed, a
    grid step below 1), before lm-eval evaluates anything."""
    if isinstance(mode, Grid) and mode.step < 1:
        raise ParamError(f"oracle step must be >= 1, not {mode.step}", param="oracle_step",
                         value=mode.step)
    if isinstance(mode, Replay):
        jobs = [scaler_from_gen_kwargs(gk, max_gen_toks, f"run {label}")
                for label, gk in mode.runs.items()]
        check_replayable([j.scaler for j in jobs])  # type: ignore[misc]


def job_for(mode: Mode, task: str, gen_kwargs: dict[str, Any], max_gen_toks: int,
            records: RecordsFolder | None, chunk: int, decoding: Decoding = GREEDY) -> TaskJob:
    """The job that answers one task's requests with these gen_kwargs in this mode, the main
    text decoded as `decoding` says where the model samples (a ParamError for gen_kwargs it
    refuses, before any engine is needed)."""
    job = with_model_decoding(
        scaler_from_gen_kwargs(with_answer_kind(gen_kwargs, task), max_gen_toks), decoding,
        f"task {task}")
    if isinstance(mode, Grid):
        return GridJob(records, chunk, job, mode.step, mode.answer_cap)
    if isinstance(mode, Live):
        return LiveJob(records, chunk, {"": job}, "")
    runs = {lb: scaler_from_gen_kwargs(with_answer_kind(gk, task), max_gen_toks, f"run {lb}")
            for lb, gk in mode.runs.items()}
    if runs[mode.current].scaler.params != job.scaler.params:
        raise ParamError(f"replay: the gen_kwargs evaluated are not run {mode.current!r}'s")
    runs[mode.current] = dataclasses.replace(runs[mode.current], decoding=job.decoding,
                                             until=job.until)
    return ReplayJob(records, chunk, runs, mode.current)


def _add_up(dicts: Any) -> dict[str, float]:
    total: dict[str, float] = {}
    for d in dicts:
        for k, v in d.items():
            total[k] = total.get(k, 0) + v
    return total
