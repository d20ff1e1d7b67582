"""`eigscale-sweep SPEC.json`: a replay sweep through lm-eval.

One model load and one reasoning trace per question (eigscale.scalers.replay), then, for each run of
the sweep, a full lm-eval evaluation (its metrics computed by lm-eval from that run's answers)
written as `eigscale-eval` writes one: `<output>/<run>/.../results_<stamp>.json` (summary under
"eigscale"), `samples_<task>_<stamp>.jsonl` and `decisions_<task>_<stamp>.jsonl`.

SPEC (JSON):
    model          "vllm" | "hf"
    model_args     lm-eval model_args as an object (pretrained, dtype, ...)
    task           one task name (eigscale's tasks are on the include path)
    limit          questions (null: all)
    apply_chat_template, seed
    records        folder for resumable per-run records (<records>/<run>/)
    output         output folder
    runs           {run: gen_kwargs}: the sweep, which must be replayable
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from eigscale.lmeval.gen_kwargs import check_gen_kwargs, scaler_from_gen_kwargs
from eigscale.lmeval.harness import evaluate_task, load_lm, spec_main
from eigscale.lmeval.run_folder import RecordsFolder, collect_outputs
from eigscale.scalers.replay import check_replayable


def check_spec(spec: dict[str, Any]) -> None:
    """Every run's gen_kwargs valid and the sweep replayable: before any model loads."""
    runs = spec["runs"]
    for label, gen_kwargs in runs.items():
        check_gen_kwargs(gen_kwargs, f"run {label}")
    jobs = [scaler_from_gen_kwargs(gk, source=f"run {label}") for label, gk in runs.items()]
    check_replayable([j.scaler for j in jobs],  # type: ignore[misc]
                     f"sweep of {', '.join(runs)}")


def run_sweep(spec: dict[str, Any]) -> None:
    records, output = Path(spec["records"]), Path(spec["output"])
    lm = load_lm(spec, records)
    lm.setup_replay(spec["runs"])
    for label, gen_kwargs in spec["runs"].items():
        lm.use_run(label)
        started = time.time() - 1
        evaluate_task(lm, spec, gen_kwargs, output / label)
        collect_outputs(output / label, RecordsFolder(records).run(label), started)


def _sweep(_path: Path, spec: dict[str, Any]) -> None:
    check_spec(spec)
    run_sweep(spec)  # a LengthError is found once the prompts are known


def main(argv: list[str] | None = None) -> int:
    return spec_main(argv, __doc__ or "", "eigscale-sweep", _sweep)


if __name__ == "__main__":
    sys.exit(main())
