"""Rule plots: the paper figures (eigscale.pipeline.figures), PDF and PNG."""

from eigscale.pipeline.figures import make_figures
from eigscale.pipeline.logs import rule_log

sm = snakemake  # noqa: F821
with rule_log(sm.log[0]) as log:
    make_figures(sm.input.runs, sm.input.questions, dict(sm.output.items()))
    log.info("%d figure files", len(sm.output))
