"""Rule plots: the paper figures (eigscale.figures), PDF and PNG."""

from eigscale.figures import make_figures

sm = snakemake  # noqa: F821
make_figures(sm.input.runs, sm.input.questions, dict(sm.output.items()))
