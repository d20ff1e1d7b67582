"""Rule tables: the paper tables as CSV, Markdown, LaTeX and HTML (eigscale.pipeline.tables)."""

from pathlib import Path

import pandas as pd

from eigscale.pipeline.logs import rule_log
from eigscale.pipeline.tables import TABLES, write_table

sm = snakemake  # noqa: F821
with rule_log(sm.log[0]) as log:
    for name, (frame, title, view) in TABLES.items():
        stem = Path(sm.output[f"{name}_csv"]).with_suffix("")
        files = write_table(pd.read_csv(sm.input[frame]), view, stem, title)
        log.info("%s: %s", name, ", ".join(str(f) for f in files))
