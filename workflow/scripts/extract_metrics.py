"""Rule extract_metrics: tidy tables, one row per run and one per question, from runs whose
provenance shows they were made with the current config's settings."""

from pathlib import Path

from eigscale.metrics import extract
from eigscale.workflow_run import check_provenance

sm = snakemake  # noqa: F821
for folder, settings in sm.params.settings.items():
    check_provenance(Path(folder) / "provenance.json", settings, "extract_metrics")
runs, questions = extract(sm.input.results, sm.params.runs)
runs.to_csv(sm.output.runs, index=False)
questions.to_csv(sm.output.questions, index=False)
