"""Rule evaluate: one (model, task, run) through eigscale-eval (eigscale.pipeline.job)."""

from pathlib import Path

from eigscale.pipeline.job import evaluate_run
from eigscale.pipeline.settings import generation_settings

sm = snakemake  # noqa: F821
evaluate_run(sm.params.settings, Path(sm.input.model).parent, dict(sm.output.items()),
             Path(sm.log[0]), parallel=sm.params.parallel,
             chunk=generation_settings(sm.config)["checkpoint_every"])
