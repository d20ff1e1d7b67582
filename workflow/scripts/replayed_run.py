"""Rule replayed_run: one run's files out of its replay sweep's folder (copied, so the sweep's
folder stays complete for snakemake)."""

import shutil
from pathlib import Path

from eigscale.pipeline.job import check_provenance

sm = snakemake  # noqa: F821
source = Path(sm.input[0]) / sm.wildcards.run
check_provenance(source / "provenance.json", sm.params.settings, f"run {sm.wildcards.run}")
with open(sm.log[0], "w") as log:
    for kind, dest in sm.output.items():
        src = next(source.glob(f"{kind}.*"))
        shutil.copyfile(src, dest)
        print(f"{src} -> {dest}", file=log)
