"""Rule extract_metrics: tidy tables, one row per run and one per question, from runs whose
provenance shows they were made with the current config's settings."""

import json
from pathlib import Path

from eigscale.metrics import extract
from eigscale.workflow_run import check_provenance

sm = snakemake  # noqa: F821
for folder, settings in sm.params.settings.items():
    check_provenance(Path(folder) / "provenance.json", settings, "extract_metrics")
configs = {Path(f).parent.name: json.loads(Path(f).read_text()) for f in sm.input.models}
runs, questions = extract(sm.input.results, sm.params.runs, configs)
runs.to_csv(sm.output.runs, index=False)
questions.to_csv(sm.output.questions, index=False)
