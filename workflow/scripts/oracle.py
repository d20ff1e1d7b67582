"""Rule oracle: the oracle grid of one (model, task) (eigscale.pipeline.job.run_grid)."""

from pathlib import Path

from eigscale.pipeline.job import run_grid
from eigscale.pipeline.run_config import generation_settings

sm = snakemake  # noqa: F821
run_grid(sm.params.settings, Path(sm.input.model).parent, Path(sm.output.grid).parent,
         Path(sm.log[0]), chunk=generation_settings(sm.config)["checkpoint_every"])
