"""What the Snakemake workflow uses: kept in the package so it is tested like the rest and the
rule files stay declarative.

- `run_config`: config validation against the schema, runs expanded from sweeps and presets, the
  settings each evaluation job depends on;
- `outputs`: what the workflow makes, named once (run files, analysis, tables, figures, the
  rules that take a GPU);
- `fingerprint`: the package code each scaler's results depend on;
- `job`: one evaluation job (eigscale-eval, eigscale-sweep or eigscale-oracle in a subprocess,
  outputs under fixed names, provenance);
- `logs`: the log a rule declares;
- `metrics`: the tidy runs and questions tables from the jobs' files;
- `frontier`: the oracle quantities (frontiers, regret, headroom) from a grid;
- `stats`: paired bootstrap intervals and tests;
- `analysis`: the analysis tables (frontiers, regret, matched comparisons) with their intervals;
- `tables`, `figures`: the paper's tables and figures.
"""
