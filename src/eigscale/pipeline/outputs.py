"""What the workflow makes, named once: the workflow's rules (workflow/rules/*.smk) expand
these lists, the modules that write the files key their output by them, and
tests/test_consistency.py checks the rest of the tree against them (report captions, the Slurm
profile's GPU jobs). Adding a figure: its name here, its builder in figures.BUILDERS, its caption
in workflow/report/<name>.rst."""

from __future__ import annotations

# the files of one (model, task, run) evaluation folder, whichever job made them
RUN_FILES = ("results.json", "samples.jsonl", "decisions.jsonl", "provenance.json")
# results/analysis/<name>.csv (eigscale.pipeline.analysis.analyse)
ANALYSIS = ("points", "frontiers", "operating_points", "matched")
# results/tables/<name>.<format> (eigscale.pipeline.tables.TABLES)
TABLES = ("operating_points", "matched_compute", "oracle")
TABLE_FORMATS = ("csv", "md", "tex", "html")
# results/figures/<name>.<pdf|png> (eigscale.pipeline.figures.BUILDERS)
FIGURES = ("accuracy_vs_tokens", "eig_trajectories", "cost_breakdown", "oracle_heatmap",
           "regret")
# the rules whose jobs run the model: one GPU job each on Slurm (profiles/slurm sets their
# resources; every other rule is local)
GPU_RULES = ("evaluate", "evaluate_replay", "oracle")
