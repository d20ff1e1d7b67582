"""Rule extract_metrics: tidy tables, one row per run and one per question, from runs whose
provenance shows they were made with the current config's settings."""

import json
from pathlib import Path

from eigscale.pipeline.job import check_provenance
from eigscale.pipeline.logs import rule_log
from eigscale.pipeline.metrics import extract

sm = snakemake  # noqa: F821
with rule_log(sm.log[0]) as log:
    for folder, settings in sm.params.settings.items():
        check_provenance(Path(folder) / "provenance.json", settings, "extract_metrics")
    configs = {Path(f).parent.name: json.loads(Path(f).read_text()) for f in sm.input.models}
    runs, questions = extract(sm.input.results, sm.params.runs, configs)
    runs.to_csv(sm.output.runs, index=False)
    questions.to_csv(sm.output.questions, index=False)
    log.info("%d runs, %d question rows", len(runs), len(questions))
