# Helpers shared by the rules. The logic lives in eigscale.pipeline (tested there).

import re

from eigscale.pipeline import job as eval_job
from eigscale.pipeline import outputs
from eigscale.pipeline import run_config
from eigscale.pipeline.fingerprint import fingerprint

RUNS = run_config.validate(
    config, workflow.source_path("../schemas/config.schema.yaml"), workflow.configfiles
)
MODELS = list(config["models"])
TASKS = list(config["tasks"])
FIGURES = outputs.FIGURES
ANALYSIS = outputs.ANALYSIS
TABLE_NAMES = outputs.TABLES
TABLE_FORMATS = outputs.TABLE_FORMATS
RUN_FILES = outputs.RUN_FILES
# sweeps with `replay: true`: one job answers all their runs from one trace per question
REPLAY = run_config.replay_sweeps(RUNS)
LIVE = [r for r in RUNS if not RUNS[r]["replay"]]


def alternatives(names):
    """A wildcard constraint matching exactly these names (nothing, if there are none)."""
    return "|".join(re.escape(n) for n in names) or "(?!)"


wildcard_constraints:
    model=alternatives(MODELS),
    task=alternatives(TASKS),
    run=alternatives(RUNS),


def run_dir(model, task, run):
    return f"results/runs/{model}/{task}/{run}"


def run_outputs():
    """The named outputs of one (model, task, run) evaluation, whichever rule makes them."""
    return {
        f.split(".")[0]: f"results/runs/{{model}}/{{task}}/{{run}}/{f}" for f in RUN_FILES
    }


def all_run_outputs(name):
    """One file of every (model, task, run) evaluation."""
    return [f"{run_dir(m, t, r)}/{name}" for m in MODELS for t in TASKS for r in RUNS]


def settings_of(model, task, run):
    """Everything a run's result depends on: a change reruns its job alone."""
    return run_config.settings_of(config, RUNS, model, task, run)


def run_settings(wildcards):
    return settings_of(wildcards.model, wildcards.task, wildcards.run)


def code_fingerprint(wildcards):
    return fingerprint(RUNS[wildcards.run]["scaler"])


def oracle_settings_of(model, task):
    """Everything an oracle grid depends on: a change reruns it alone."""
    return run_config.oracle_of(config, RUNS, model, task)


def oracle_settings(wildcards):
    return oracle_settings_of(wildcards.model, wildcards.task)


def oracle_fingerprint(wildcards):
    return fingerprint("budget_forcing", oracle=True)


def replay_settings(wildcards):
    """{run: settings} of every run of a replay sweep."""
    return {
        run: settings_of(wildcards.model, wildcards.task, run)
        for run in REPLAY[wildcards.sweep]
    }


def replay_fingerprint(wildcards):
    return fingerprint(RUNS[REPLAY[wildcards.sweep][0]]["scaler"], replay=True)


def replay_dir(wildcards):
    """The replay job's folder holding a replayed run's files."""
    sweep = RUNS[wildcards.run]["sweep"]
    return f"results/replays/{wildcards.model}/{wildcards.task}/{sweep}"


def gpus(wildcards):
    return run_config.model_settings(config, wildcards.model)["gpus"]


def engine_args(wildcards):
    """What the job's engine takes from the model entry over its GPUs (shown by the rule's
    message; eigscale.pipeline.job passes the same to lm-eval)."""
    return eval_job.engine_args(run_config.model_settings(config, wildcards.model))
