"""Rule download_model: a model source into resources/models/{model} (eigscale.prepare)."""

import contextlib
import logging
import traceback

from eigscale.prepare import prepare_model

sm = snakemake  # noqa: F821
with open(sm.log[0], "w") as log, contextlib.redirect_stderr(log):  # progress bars too
    logging.basicConfig(stream=log, level=logging.INFO)
    try:
        print(prepare_model(sm.params.source, sm.params.dest), file=log)
    except Exception:
        traceback.print_exc(file=log)
        raise
