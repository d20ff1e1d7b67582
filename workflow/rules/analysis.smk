rule oracle:
    input:
        model="resources/models/{model}/config.json",
    output:
        grid=report(
            "results/oracle/{model}/{task}/grid.csv",
            caption="../report/grid.rst",
            category="Oracle",
            labels={"model": "{model}", "task": "{task}", "table": "c_i(t) grid"},
        ),
        provenance="results/oracle/{model}/{task}/provenance.json",
    params:
        settings=oracle_settings,
        engine_args=engine_args,
        fingerprint=oracle_fingerprint,
    message:
        "oracle grid {wildcards.model}/{wildcards.task} on {resources.gpu} GPU(s), engine args {params.engine_args}"
    conda:
        "../envs/eigscale.yaml"
    log:
        "results/logs/oracle/{model}/{task}.log",
    benchmark:
        "results/benchmarks/oracle/{model}/{task}.tsv"
    threads: 1
    resources:
        gpu=gpus,
    script:
        "../scripts/oracle.py"


localrules:
    analysis,
    tables,


rule analysis:
    input:
        runs="results/metrics/runs.csv",
        questions="results/metrics/questions.csv",
        grids=expand("results/oracle/{model}/{task}/grid.csv", model=MODELS, task=TASKS),
        provenance=expand(
            "results/oracle/{model}/{task}/provenance.json", model=MODELS, task=TASKS
        ),
        models=expand("resources/models/{model}/config.json", model=MODELS),
    output:
        **{name: f"results/analysis/{name}.csv" for name in ANALYSIS},
    params:
        analysis=lambda wildcards: run_config.analysis_settings(config),
        # what each grid must have been made with: checked against its provenance
        oracles=lambda wildcards: {
            f"results/oracle/{m}/{t}": oracle_settings_of(m, t)
            for m in MODELS
            for t in TASKS
        },
    conda:
        "../envs/eigscale.yaml"
    log:
        "results/logs/analysis.log",
    script:
        "../scripts/analysis.py"


rule tables:
    input:
        **{name: f"results/analysis/{name}.csv" for name in ANALYSIS},
    output:
        **{
            f"{name}_{ext}": (
                report(
                    f"results/tables/{name}.{ext}",
                    caption=f"../report/table_{name}.rst",
                    category="Tables",
                    labels={"table": name, "format": ext},
                )
                if ext == "html"
                else f"results/tables/{name}.{ext}"
            )
            for name in TABLE_NAMES
            for ext in TABLE_FORMATS
        },
    conda:
        "../envs/eigscale.yaml"
    log:
        "results/logs/tables.log",
    script:
        "../scripts/tables.py"
