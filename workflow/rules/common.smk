# Helpers shared by the rules. The logic lives in eigscale.workflow_config (tested there).

from eigscale import workflow_config as wc
from eigscale import workflow_run as wr

RUNS = wc.validate(
    config, workflow.source_path("../schemas/config.schema.yaml"), workflow.configfiles
)
MODELS = list(config["models"])
TASKS = list(config["tasks"])
FIGURES = ["accuracy_vs_tokens", "eig_trajectories", "cost_breakdown"]
RUN_FILES = ["results.json", "samples.jsonl", "decisions.jsonl", "provenance.json"]


wildcard_constraints:
    model="|".join(MODELS),
    task="|".join(TASKS),
    run="|".join(RUNS),


def run_dir(model, task, run):
    return f"results/runs/{model}/{task}/{run}"


def all_run_outputs(name):
    """One file of every (model, task, run) evaluation."""
    return [f"{run_dir(m, t, r)}/{name}" for m in MODELS for t in TASKS for r in RUNS]


def run_settings(wildcards):
    """Everything the evaluate job's result depends on: a change reruns that job alone."""
    return wc.canonical(
        {
            "run": RUNS[wildcards.run],
            "model": wc.model_settings(config, wildcards.model),
            "task": {"name": wildcards.task, **(config["tasks"][wildcards.task] or {})},
            "generation": wc.generation_settings(config),
        }
    )


def code_fingerprint(wildcards):
    return wc.fingerprint(RUNS[wildcards.run]["scaler"])


def gpus(wildcards):
    return wc.model_settings(config, wildcards.model)["gpus"]


def engine_parallel(wildcards):
    """Engine arguments that spread the model over the job's GPUs (the `gpu` resource)."""
    model = wc.model_settings(config, wildcards.model)
    return wr.parallel_args(model["engine"], model["gpus"])
