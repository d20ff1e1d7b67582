"""Rule oracle: the oracle grid of one (model, task) (eigscale.pipeline.job.evaluate_oracle)."""

from pathlib import Path

from eigscale.pipeline.job import evaluate_oracle
from eigscale.pipeline.settings import generation_settings

sm = snakemake  # noqa: F821
evaluate_oracle(sm.params.settings, Path(sm.input.model).parent,
                Path(sm.output.grid).parent, Path(sm.log[0]), parallel=sm.params.parallel,
                chunk=generation_settings(sm.config)["checkpoint_every"])
