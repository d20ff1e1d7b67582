"""Rule evaluate_replay: every run of a replay sweep from one trace (eigscale.workflow_run)."""

from pathlib import Path

from eigscale.workflow_config import generation_settings
from eigscale.workflow_run import evaluate_replay

sm = snakemake  # noqa: F821
evaluate_replay(sm.params.settings, Path(sm.input.model).parent, Path(sm.output[0]),
                Path(sm.log[0]), parallel=sm.params.parallel,
                chunk=generation_settings(sm.config)["checkpoint_every"])
