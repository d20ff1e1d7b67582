localrules:
    extract_metrics,


rule extract_metrics:
    input:
        results=all_run_outputs("results.json"),
        samples=all_run_outputs("samples.jsonl"),
        decisions=all_run_outputs("decisions.jsonl"),
    output:
        runs=report("results/metrics/runs.csv", category="Tables"),
        questions="results/metrics/questions.csv",
    params:
        runs=RUNS,
    conda:
        "../envs/eigscale.yaml"
    log:
        "results/logs/extract_metrics.log",
    script:
        "../scripts/extract_metrics.py"
