"""Rule analysis: oracle points and frontiers, operating points with paired intervals, regret,
headroom and matched-compute tests (eigscale.pipeline.analysis)."""

import json
from pathlib import Path

import pandas as pd

from eigscale.compute import ModelShape
from eigscale.pipeline.analysis import Settings, analyse
from eigscale.pipeline.job import check_provenance
from eigscale.pipeline.logs import rule_log

sm = snakemake  # noqa: F821
with rule_log(sm.log[0]) as log:
    for folder, settings in sm.params.oracles.items():
        check_provenance(Path(folder) / "provenance.json", settings, "analysis")
    grids = pd.concat([pd.read_csv(f).assign(model=Path(f).parent.parent.name,
                                             task=Path(f).parent.name)
                       for f in sm.input.grids], ignore_index=True)
    shapes = {Path(f).parent.name: ModelShape.from_config(json.loads(Path(f).read_text()))
              for f in sm.input.models}
    tables = analyse(pd.read_csv(sm.input.runs), pd.read_csv(sm.input.questions), grids,
                     Settings.from_config(sm.config), shapes)
    for name, path in sm.output.items():
        tables[name].to_csv(path, index=False)
        log.info("%s: %d rows", name, len(tables[name]))
