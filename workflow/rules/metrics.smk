localrules:
    extract_metrics,


rule extract_metrics:
    input:
        results=all_run_outputs("results.json"),
        samples=all_run_outputs("samples.jsonl"),
        decisions=all_run_outputs("decisions.jsonl"),
        provenance=all_run_outputs("provenance.json"),
        # the models' shapes, for the FLOP estimate (eigscale.compute)
        models=expand("resources/models/{model}/config.json", model=MODELS),
    output:
        runs=report(
            "results/metrics/runs.csv",
            caption="../report/runs.rst",
            category="Tables",
            labels={"table": "runs (metrics)", "format": "csv"},
        ),
        questions="results/metrics/questions.csv",
    params:
        runs=RUNS,
        # what each run must have been made with: checked against its provenance
        settings=lambda wildcards: {
            run_dir(m, t, r): settings_of(m, t, r)
            for m in MODELS
            for t in TASKS
            for r in RUNS
        },
    conda:
        "../envs/eigscale.yaml"
    log:
        "results/logs/extract_metrics.log",
    script:
        "../scripts/extract_metrics.py"
