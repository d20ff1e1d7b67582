localrules:
    download_model,


rule download_model:
    output:
        config="resources/models/{model}/config.json",
    params:
        source=lambda wildcards: config["models"][wildcards.model]["source"],
        dest=lambda wildcards: f"resources/models/{wildcards.model}",
    conda:
        "../envs/eigscale.yaml"
    log:
        "results/logs/download_model/{model}.log",
    script:
        "../scripts/download_model.py"
