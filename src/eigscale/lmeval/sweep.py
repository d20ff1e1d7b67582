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

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from eigscale.errors import ParamError
from eigscale.lmeval.evaluate import collect_outputs
from eigscale.lmeval.gen_kwargs import check_gen_kwargs, scaler_from_gen_kwargs
from eigscale.lmeval.tasks import TASKS_DIR
from eigscale.params import DEFAULT_SEED
from eigscale.scalers.replay import check_replayable


def check_spec(spec: dict[str, Any]) -> None:
    """Every run's gen_kwargs valid and the sweep replayable: before any model loads."""
    runs = spec["runs"]
    for label, gen_kwargs in runs.items():
        check_gen_kwargs(gen_kwargs, f"run {label}")
    jobs = [scaler_from_gen_kwargs(gk, 256, f"run {label}") for label, gk in runs.items()]
    check_replayable([j.scaler for j in jobs], jobs[0].decoding,  # type: ignore[misc]
                     f"sweep of {', '.join(runs)}")


def load_lm(spec: dict[str, Any], records: Path) -> Any:
    """The spec's lm-eval model, appending finished questions' records under `records`."""
    from lm_eval.api.registry import get_model

    from eigscale.lmeval.models import resolve_model

    return get_model(resolve_model(spec["model"])).create_from_arg_obj(
        {**spec["model_args"], "eigscale_records": str(records)},
        # what lm-eval's CLI passes by default; HFLM falls back to the CPU without CUDA
        {"batch_size": "auto", "device": "cuda:0"})


def evaluate_task(lm: Any, spec: dict[str, Any], gen_kwargs: dict[str, Any],
                  output: Path) -> dict[str, Any]:
    """One lm-eval evaluation of the spec's task with these gen_kwargs, saved under `output`
    as lm-eval saves one (results_<stamp>.json, samples_<task>_<stamp>.jsonl); returns
    lm-eval's results, its samples under "samples"."""
    from lm_eval import simple_evaluate
    from lm_eval.loggers import EvaluationTracker
    from lm_eval.tasks import TaskManager

    seed = spec.get("seed", DEFAULT_SEED)
    tracker = EvaluationTracker(output_path=str(output))
    results = simple_evaluate(model=lm, tasks=[spec["task"]], limit=spec.get("limit"),
                              log_samples=True, gen_kwargs=dict(gen_kwargs),
                              evaluation_tracker=tracker,
                              apply_chat_template=spec.get("apply_chat_template", False),
                              task_manager=TaskManager(include_path=str(TASKS_DIR)),
                              random_seed=seed, numpy_random_seed=seed,
                              torch_random_seed=seed, fewshot_random_seed=seed)
    samples = results.pop("samples")
    tracker.save_results_aggregated(results=results, samples=samples)
    for task in results["configs"]:
        tracker.save_results_samples(task_name=task, samples=samples[task])
    return {**results, "samples": samples}


def run_sweep(spec: dict[str, Any]) -> None:
    records, output = Path(spec["records"]), Path(spec["output"])
    lm = load_lm(spec, records)
    lm.setup_replay(spec["runs"])
    for label, gen_kwargs in spec["runs"].items():
        lm.use_run(label)
        started = time.time() - 1
        evaluate_task(lm, spec, gen_kwargs, output / label)
        collect_outputs(output / label, records / label, started)


def spec_main(argv: list[str] | None, doc: str, command: str,
              run: Callable[[Path, dict[str, Any]], None]) -> int:
    """The command line of a SPEC.json command (eigscale-sweep, eigscale-oracle): `run(path,
    spec)`; a ParamError is one line naming the spec file, exit 2."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) != 1 or argv[0] in ("-h", "--help"):
        print(doc)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    path = Path(argv[0])
    try:
        run(path, json.loads(path.read_text(encoding="utf-8")))
    except ParamError as e:
        print(f"{command}: error in {path}: {e}", file=sys.stderr)
        return 2
    return 0


def _sweep(_path: Path, spec: dict[str, Any]) -> None:
    check_spec(spec)
    run_sweep(spec)  # a LengthError is found once the prompts are known


def main(argv: list[str] | None = None) -> int:
    return spec_main(argv, __doc__ or "", "eigscale-sweep", _sweep)


if __name__ == "__main__":
    sys.exit(main())
