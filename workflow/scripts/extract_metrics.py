"""Rule extract_metrics: tidy tables, one row per run and one per question."""

from eigscale.metrics import extract

sm = snakemake  # noqa: F821
runs, questions = extract(sm.input.results, sm.params.runs)
runs.to_csv(sm.output.runs, index=False)
questions.to_csv(sm.output.questions, index=False)
