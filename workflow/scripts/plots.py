"""Rule plots: the paper figures (eigscale.pipeline.figures), PDF and PNG."""

from pathlib import Path

import pandas as pd

from eigscale.pipeline.figures import make_figures
from eigscale.pipeline.logs import rule_log

sm = snakemake  # noqa: F821
with rule_log(sm.log[0]) as log:
    tables = {name: pd.read_csv(sm.input[name])
              for name in ("runs", "questions", "operating_points", "frontiers")}
    tables["grids"] = pd.concat([pd.read_csv(f).assign(model=Path(f).parent.parent.name,
                                                       task=Path(f).parent.name)
                                 for f in sm.input.grids], ignore_index=True)
    make_figures(tables, dict(sm.output.items()))
    log.info("%d figure files", len(sm.output))
