"""The files of an evaluation, named in this module only.

Two folders per evaluation:

- the records folder (`eigscale_records=<folder>` in model_args): what the jobs append as
  chunks of questions finish, so a killed run resumes. Per task: `decisions_<task>.jsonl` (one
  record per question), `chunks_<task>.jsonl` (each chunk's engine counters and seconds),
  `summary_<task>.json` (the run summary, written when the task is done) and, for the oracle
  grid, `grid_<task>.jsonl` (one row per cut). A replay sweep keeps one subfolder per run.
- the output folder (lm-eval's --output_path): lm-eval's `results_<stamp>.json` and
  `samples_<task>_<stamp>.jsonl`, plus ours, moved there when the run is complete
  (`collect_outputs`): `decisions_<task>_<stamp>.jsonl` and the summary merged into the results
  under "eigscale". The oracle command writes `grid.csv` and lm-eval's files under `lm_eval/`.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from eigscale.jsonio import write_json_atomic

# what one evaluation leaves in its output folder, by kind: lm-eval's two files and ours
OUTPUT_KINDS = ("results", "samples", "decisions")
GRID_CSV = "grid.csv"
GRID_LM_EVAL = "lm_eval"  # the oracle's trace-end evaluation, as lm-eval saved it


@dataclass(frozen=True)
class RecordsFolder:
    """A records folder (or one replayed run's subfolder of it)."""

    path: Path

    def run(self, label: str) -> RecordsFolder:
        """The subfolder of one run of a replay sweep ("": this folder)."""
        return RecordsFolder(self.path / label) if label else self

    def decisions(self, task: str) -> Path:
        return self.path / f"decisions_{task}.jsonl"

    def chunks(self, task: str) -> Path:
        return self.path / f"chunks_{task}.jsonl"

    def summary(self, task: str) -> Path:
        return self.path / f"summary_{task}.json"

    def grid(self, task: str) -> Path:
        return self.path / f"grid_{task}.jsonl"

    def summaries(self) -> dict[str, Path]:
        """{task: summary file} of the tasks finished here."""
        return {p.stem.removeprefix("summary_"): p
                for p in sorted(self.path.glob("summary_*.json"))}


def output_files(folder: Path) -> dict[str, list[Path]]:
    """{kind: files} of OUTPUT_KINDS found anywhere under an output folder."""
    return {kind: sorted(folder.rglob(f"{kind}_*.json*")) for kind in OUTPUT_KINDS}


def collect_outputs(output_path: Path, records: RecordsFolder, started: float) -> None:
    """Move the records of a complete run next to the lm-eval files it wrote since `started`
    and merge the run summaries into its results file under "eigscale"."""
    results = [p for p in output_path.rglob("results_*.json") if p.stat().st_mtime >= started]
    if not results:
        return
    res_file = max(results, key=lambda p: p.stat().st_mtime)
    stamp = res_file.stem.removeprefix("results_")
    data = json.loads(res_file.read_text(encoding="utf-8"))
    summaries = {}
    for task, summary in records.summaries().items():
        summaries[task] = json.loads(summary.read_text(encoding="utf-8"))
        if records.decisions(task).exists():
            shutil.move(records.decisions(task),
                        res_file.parent / f"decisions_{task}_{stamp}.jsonl")
        # the run is complete: a later run must not count these counters again
        records.chunks(task).unlink(missing_ok=True)
    if summaries:
        data["eigscale"] = summaries
        write_json_atomic(res_file, data)
