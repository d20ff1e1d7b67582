"""Rule evaluate: one (model, task, run) through eigscale-eval (eigscale.workflow_run)."""

from pathlib import Path

from eigscale.workflow_config import generation_settings
from eigscale.workflow_run import evaluate_run

sm = snakemake  # noqa: F821
evaluate_run(sm.params.settings, Path(sm.input.model).parent, dict(sm.output.items()),
             Path(sm.log[0]), parallel=sm.params.parallel,
             chunk=generation_settings(sm.config)["checkpoint_every"])
