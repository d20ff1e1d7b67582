"""Evaluate every run of a workflow config through lm-eval, one engine start per model.

    python -m tests.shape_driver <config.yaml> <model>=<folder> ... <out.json>

The workflow runs each evaluation as its own job (an engine start each); this driver runs the
same evaluations in one process, with what the jobs would use: the config validated
and expanded by eigscale.pipeline.run_config, model_args and gen_kwargs from eigscale.pipeline.job,
eigscale's lm-eval model classes and tasks through lm-eval's simple_evaluate. It writes, per
model and run, lm-eval's metrics, eigscale's summary and records, and each question's prompt
text as lm-eval built it; and, under "oracle", the oracle grid's rows (what the oracle job
computes, eigscale.lmeval.oracle_command) with its trace's cap and step.

Models whose folders hold the same weights (files linked to one another's, as
tests.helpers.reasoning_template_model makes them) share one engine start: the model object is
created once, and each model's chat template is set from its own folder before its runs
(`use_template`). Nothing else about a model
differs in the evaluation (its thinking format and lengths come from the config).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory

import yaml


def evaluate_config(config_path: Path, folders: dict[str, Path]) -> dict:
    from lm_eval import simple_evaluate
    from lm_eval.api.registry import get_model
    from lm_eval.tasks import TaskManager

    from eigscale.jsonio import read_jsonl
    from eigscale.lmeval.mixin import scaling_args
    from eigscale.lmeval.models import resolve_model
    from eigscale.lmeval.tasks import TASKS_DIR
    from eigscale.pipeline import job as wr
    from eigscale.pipeline import run_config as wc

    root = Path(__file__).resolve().parents[1]
    config = yaml.safe_load(config_path.read_text())
    runs = wc.validate(config, root / "workflow/schemas/config.schema.yaml", [str(config_path)])
    tasks = TaskManager(include_path=str(TASKS_DIR))
    out: dict = {}
    engines: dict[tuple, object] = {}  # (weights, engine settings) -> the lm-eval model
    with TemporaryDirectory() as tmp:
        for model in config["models"]:
            for task in config["tasks"]:
                first = wc.settings_of(config, runs, model, task, next(iter(runs)))
                margs = wr.model_args(first, folders[model], Path(tmp))
                # the engine's settings: the eigscale_* ones are each evaluation's (below)
                key = (weights(folders[model]), json.dumps(
                    {k: v for k, v in margs.items() if k != "pretrained"
                     and not k.startswith("eigscale_")}, sort_keys=True))
                if key not in engines:
                    engines[key] = get_model(resolve_model(first["model"]["engine"])) \
                        .create_from_arg_obj(margs, {"batch_size": "auto", "device": "cuda:0"})
                lm = engines[key]
                use_template(lm, folders[model])
                for run in runs:
                    s = wc.settings_of(config, runs, model, task, run)
                    records = Path(tmp) / model / task / run
                    lm.setup_scaling(str(records), **scaling_args(margs))
                    t0 = time.perf_counter()
                    res = simple_evaluate(model=lm, tasks=[task], limit=s["task"].get("limit"),
                                          log_samples=True, gen_kwargs=wr.gen_kwargs(s),
                                          apply_chat_template=s["generation"][
                                              "apply_chat_template"],
                                          system_instruction=s["model"]["system_prompt"],
                                          task_manager=tasks)
                    out.setdefault(model, {})[run] = {
                        "metrics": res["results"][task],
                        "summary": json.loads((records / f"summary_{task}.json").read_text()),
                        "records": read_jsonl(records / f"decisions_{task}.jsonl"),
                        "prompts": {str(x["doc_id"]): x["arguments"][0][0]
                                    for x in res["samples"][task]},
                        "graded": {str(x["doc_id"]): x["sample_correct"]
                                   for x in res["samples"][task]},
                        "seconds": time.perf_counter() - t0,
                    }
                # the oracle grid last: oracle mode stays on for this model object
                s = wc.oracle_of(config, runs, model, task)
                records = Path(tmp) / model / task / "oracle"
                lm.setup_scaling(str(records), **scaling_args(margs))
                lm.setup_oracle(s["oracle"]["step"])
                simple_evaluate(model=lm, tasks=[task], limit=s["task"].get("limit"),
                                gen_kwargs=wr.gen_kwargs(s),
                                apply_chat_template=s["generation"]["apply_chat_template"],
                                system_instruction=s["model"]["system_prompt"],
                                task_manager=tasks)
                out[model]["oracle"] = {"grid": read_jsonl(records / f"grid_{task}.jsonl"),
                                        "cap": s["run"]["params"]["max_tokens_thinking"],
                                        "step": s["oracle"]["step"]}
    return out


def use_template(lm, folder: Path) -> None:
    """Give an lm-eval model the chat template of `folder`: HFLM applies its tokenizer's,
    VLLM the `hf_chat_template` it resolved from it at start."""
    template = (folder / "chat_template.jinja").read_text()
    lm.tokenizer.chat_template = template
    if hasattr(lm, "hf_chat_template"):
        lm.hf_chat_template = template


def weights(folder: Path) -> tuple[str, ...]:
    """The real paths of a model folder's weight files: equal for folders that share them."""
    return tuple(sorted(str(f.resolve()) for f in folder.iterdir() if f.suffix == ".safetensors"))


def main(argv: list[str]) -> int:
    config, *pairs, dest = argv
    folders = {k: Path(v) for k, v in (p.split("=", 1) for p in pairs)}
    Path(dest).write_text(json.dumps(evaluate_config(Path(config), folders), default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
