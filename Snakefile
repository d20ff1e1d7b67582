# eigscale: model download -> baseline, budget-forcing, EIG and peer lm-eval runs -> metrics ->
# oracle grid -> analysis (paired statistics, regret) -> tables and figures -> `--report`.
# Default config: config/config.yaml (tiny offline model, CPU). See config/README.md.

from snakemake.utils import min_version

min_version("9.0")

# The embedded default, unless --configfile names another (snakemake would otherwise merge the
# two, and the default's runs would leak into yours).
if not config:

    configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/models.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/metrics.smk"
include: "workflow/rules/analysis.smk"
include: "workflow/rules/plots.smk"


rule all:
    input:
        "results/metrics/runs.csv",
        "results/metrics/questions.csv",
        expand("results/figures/{figure}.{ext}", figure=FIGURES, ext=["pdf", "png"]),
        expand("results/tables/{table}.{ext}", table=TABLE_NAMES, ext=TABLE_FORMATS),
    default_target: True
