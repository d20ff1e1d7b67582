"""The lm-eval model mixin: `generate_until` through a scaler whenever gen_kwargs name one.

`ScalingMixin` gives an lm-eval model class a `generate_until` that hands each task's scaler
requests to a job of the model's mode (eigscale.lmeval.jobs: live, a replay sweep's run, or the
oracle grid) and is the parent class's own otherwise. Finished questions are appended to a
records folder as they finish; a rerun with the same folder resumes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from eigscale.engines.base import Engine
from eigscale.errors import ParamError
from eigscale.lmeval.gen_kwargs import SWITCH, main_decoding
from eigscale.lmeval.jobs import Grid, Live, Mode, Questions, Replay, check_mode, job_for
from eigscale.lmeval.run_folder import RecordsFolder
from eigscale.params import DEFAULT_SEED
from eigscale.scalers.base import GREEDY, Decoding

log = logging.getLogger("eigscale")


# eigscale's own model_args, for `setup_scaling` (eigscale_records aside: the records folder)
SCALING_ARGS = ("eigscale_chunk", "eigscale_samples", "eigscale_temperature", "eigscale_top_p",
                "eigscale_trace_seed")


def scaling_args(model_args: Mapping[str, Any]) -> dict[str, Any]:
    """`setup_scaling`'s chunk, samples and decoding from eigscale's model_args (absent: the
    whole task in one batch, one trace, greedy), checked."""
    return {"chunk": int(model_args.get("eigscale_chunk", 0)),
            "samples": int(model_args.get("eigscale_samples", 1)),
            "decoding": main_decoding(model_args.get("eigscale_temperature", 0.0),
                                      model_args.get("eigscale_top_p", 1.0),
                                      model_args.get("eigscale_trace_seed", DEFAULT_SEED))}


def pop_scaling_args(kwargs: dict[str, Any]) -> dict[str, Any]:
    """`scaling_args` of a model class's keyword arguments, taken out of them (what is left is
    the lm-eval class's own)."""
    return scaling_args({k: kwargs.pop(k) for k in SCALING_ARGS if k in kwargs})


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

    _records: RecordsFolder | None = None
    _engine: Engine | None = None
    _chunk: int = 0
    _samples: int = 1
    _decoding: Decoding = GREEDY
    _mode: Mode = Live()

    def setup_scaling(self, records_dir: str | None, chunk: int = 0, samples: int = 1,
                      decoding: Decoding = GREEDY) -> None:
        """Start a new evaluation, live (until `setup_replay` or `setup_oracle`).
        records_dir: where per-question records are appended as chunks finish (a rerun
        with the same folder skips the questions already there). chunk: traces per scaler
        batch and durable checkpoint; 0 = the whole task in one batch. samples: sampled
        traces per question (k; each seeded by question and sample index), graded one by
        one by the task's grader (its exact_match is their mean, pass@1). decoding: the
        model's main decoding, every rule's (greedy: each gen_kwargs' own)."""
        if int(samples) < 1:
            raise ParamError(f"eigscale_samples must be >= 1, not {samples}",
                             param="eigscale_samples", value=samples)
        if int(samples) > 1 and decoding.temperature == 0:
            raise ParamError(f"eigscale_samples={samples} with greedy decoding would draw "
                             f"{samples} identical traces; set eigscale_temperature > 0",
                             param="eigscale_samples", value=samples)
        self._mode = Live()
        self._records = RecordsFolder(Path(records_dir)) if records_dir else None
        if self._records:
            self._records.path.mkdir(parents=True, exist_ok=True)
        self._chunk = int(chunk)
        self._samples = int(samples)
        self._decoding = decoding
        if not log.handlers:  # progress lines on stderr; lm-eval configures only its own logger
            handler = logging.StreamHandler()
            handler.setFormatter(logging.Formatter("[eigscale] %(message)s"))
            log.addHandler(handler)
            log.setLevel(logging.INFO)
            log.propagate = False  # lm-eval may give the root logger a handler: print once

    def setup_replay(self, runs: Mapping[str, Mapping[str, Any]]) -> None:
        """Make this model answer the runs of a replay sweep ({label: gen_kwargs}) from one
        trace per question (eigscale.scalers.replay): whichever run is evaluated first computes
        them all; `use_run(label)` says which one the next generate_until belongs to. Records
        go to <records>/<label>/. Raises ParamError (ReplayError) if they cannot be replayed."""
        mode = Replay({label: dict(gk) for label, gk in runs.items()})
        check_mode(mode, self.max_gen_toks)
        self._mode = mode

    def use_run(self, label: str) -> None:
        if not isinstance(self._mode, Replay) or label not in self._mode.runs:
            raise KeyError(f"{label!r} is not a run of this replay sweep")
        self._mode.current = label

    def setup_oracle(self, step: int, answer_cap: int | None = None) -> None:
        """Make the next budget_forcing evaluation the oracle grid's: one trace per question,
        the answer forced at every `step` tokens of it and at its end, in at most `answer_cap`
        tokens (None: a live run's room). lm-eval grades the end's answer; every cut's is
        appended to the records' grid file (a rerun with the same folder resumes)."""
        mode = Grid(int(step), None if answer_cap is None else int(answer_cap))
        check_mode(mode, self.max_gen_toks)
        self._mode = mode

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

    def _scale(self, task: str, reqs: list) -> list[str]:
        job = job_for(self._mode, task, reqs[0].args[1], self.max_gen_toks, self._records,
                      self._chunk, self._decoding)
        if self._engine is None:
            self._engine = self.make_engine()
        questions = Questions(task, reqs, {r.doc_id: self.tok_encode(r.args[0]) for r in reqs},
                              self._samples)
        texts = job.answer(self._engine, questions)
        for r, text in zip(reqs, texts, strict=True):
            self.cache_hook.add_partial("generate_until", r.args, text)
        return texts
