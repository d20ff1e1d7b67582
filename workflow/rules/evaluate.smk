rule evaluate:
    input:
        model="resources/models/{model}/config.json",
    output:
        **{f.split(".")[0]: f"results/runs/{{model}}/{{task}}/{{run}}/{f}" for f in RUN_FILES},
    params:
        settings=run_settings,
        fingerprint=code_fingerprint,
        parallel=engine_parallel,
    message:
        "evaluate {wildcards.model}/{wildcards.task}/{wildcards.run} on {resources.gpu} GPU(s), engine args {params.parallel}"
    conda:
        "../envs/eigscale.yaml"
    log:
        "results/logs/evaluate/{model}/{task}/{run}.log",
    benchmark:
        "results/benchmarks/evaluate/{model}/{task}/{run}.tsv"
    threads: 1
    resources:
        gpu=gpus,
    script:
        "../scripts/evaluate.py"
