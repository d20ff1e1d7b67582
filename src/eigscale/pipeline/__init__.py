"""What the Snakemake workflow uses: kept in the package so it is tested like the rest and the
rule files stay declarative.

- `settings`: config validation against the schema, runs expanded from sweeps and presets, the
  settings each evaluation job depends on;
- `outputs`: what the workflow makes, named once (run files, analysis, tables, figures, the
  rules that take a GPU);
- `fingerprint`: the package code each scaler's results depend on;
- `job`: one evaluation job (eigscale-eval or eigscale-sweep in a subprocess, outputs under
  fixed names, provenance);
- `metrics`, `figures`: tidy tables and the paper figures.
"""
