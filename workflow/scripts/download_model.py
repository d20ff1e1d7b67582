"""Rule download_model: a model source into resources/models/{model} (eigscale.prepare)."""

from eigscale.pipeline.logs import rule_log
from eigscale.prepare import prepare_model

sm = snakemake  # noqa: F821
with rule_log(sm.log[0]) as log:  # progress bars too
    log.info("prepared %s", prepare_model(sm.params.source, sm.params.dest))
