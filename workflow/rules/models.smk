localrules:
    download_model,


rule download_model:
    output:
        config="resources/models/{model}/config.json",
    params:
        source=lambda wc_: config["models"][wc_.model]["source"],
        dest=lambda wc_: f"resources/models/{wc_.model}",
    conda:
        "../envs/eigscale.yaml"
    log:
        "results/logs/download_model/{model}.log",
    script:
        "../scripts/download_model.py"
