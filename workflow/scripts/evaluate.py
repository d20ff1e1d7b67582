"""Rule evaluate: one (model, task, run) through eigscale-eval (eigscale.pipeline.job)."""

from pathlib import Path

from eigscale.pipeline.job import run_live
from eigscale.pipeline.run_config import generation_settings

sm = snakemake  # noqa: F821
run_live(sm.params.settings, Path(sm.input.model).parent, dict(sm.output.items()),
         Path(sm.log[0]), chunk=generation_settings(sm.config)["checkpoint_every"])
