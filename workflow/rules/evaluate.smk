rule evaluate:
    wildcard_constraints:
        run=alternatives(LIVE),
    input:
        model="resources/models/{model}/config.json",
    output:
        **run_outputs(),
    params:
        settings=run_settings,
        engine_args=engine_args,
        fingerprint=code_fingerprint,
    message:
        "evaluate {wildcards.model}/{wildcards.task}/{wildcards.run} on {resources.gpu} GPU(s), engine args {params.engine_args}"
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


rule evaluate_replay:
    wildcard_constraints:
        sweep=alternatives(REPLAY),
    input:
        model="resources/models/{model}/config.json",
    output:
        directory("results/replays/{model}/{task}/{sweep}"),
    params:
        settings=replay_settings,
        engine_args=engine_args,
        fingerprint=replay_fingerprint,
    message:
        "replay sweep {wildcards.model}/{wildcards.task}/{wildcards.sweep} on {resources.gpu} GPU(s), engine args {params.engine_args}"
    conda:
        "../envs/eigscale.yaml"
    log:
        "results/logs/evaluate_replay/{model}/{task}/{sweep}.log",
    benchmark:
        "results/benchmarks/evaluate_replay/{model}/{task}/{sweep}.tsv"
    threads: 1
    resources:
        gpu=gpus,
    script:
        "../scripts/evaluate_replay.py"


localrules:
    replayed_run,


rule replayed_run:
    wildcard_constraints:
        run=alternatives([r for members in REPLAY.values() for r in members]),
    input:
        replay_dir,
    output:
        **run_outputs(),
    params:
        # the run's own settings: a change reruns this rule, and so the replay it needs
        settings=run_settings,
        fingerprint=code_fingerprint,
    conda:
        "../envs/eigscale.yaml"
    log:
        "results/logs/replayed_run/{model}/{task}/{run}.log",
    script:
        "../scripts/replayed_run.py"
