"""What the three commands share (eigscale-eval, eigscale-sweep, eigscale-oracle): loading an
lm-eval model with a records folder, one lm-eval evaluation saved as lm-eval saves one, and the
command line of a SPEC.json command."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from eigscale.errors import ParamError
from eigscale.lmeval.tasks import TASKS_DIR
from eigscale.params import DEFAULT_SEED


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
                              system_instruction=spec.get("system_instruction"),
                              task_manager=TaskManager(include_path=str(TASKS_DIR)),
                              random_seed=seed, numpy_random_seed=seed,
                              torch_random_seed=seed, fewshot_random_seed=seed)
    samples = results.pop("samples")
    tracker.save_results_aggregated(results=results, samples=samples)
    for task in results["configs"]:
        tracker.save_results_samples(task_name=task, samples=samples[task])
    return {**results, "samples": samples}


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
