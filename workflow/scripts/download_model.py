"""Rule download_model: a model source into resources/models/{model} (eigscale.prepare)."""

import logging

from eigscale.prepare import prepare_model

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)  # noqa: F821
prepare_model(snakemake.params.source, snakemake.params.dest)  # noqa: F821
