"""Rule evaluate_replay: every run of a replay sweep from one trace (eigscale.pipeline.job)."""

from pathlib import Path

from eigscale.pipeline.job import run_replay
from eigscale.pipeline.run_config import generation_settings

sm = snakemake  # noqa: F821
run_replay(sm.params.settings, Path(sm.input.model).parent, Path(sm.output[0]),
           Path(sm.log[0]), chunk=generation_settings(sm.config)["checkpoint_every"])
