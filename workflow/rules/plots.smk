localrules:
    plots,


rule plots:
    input:
        runs="results/metrics/runs.csv",
        questions="results/metrics/questions.csv",
    output:
        **{
            f"{fig}_{ext}": report(
                f"results/figures/{fig}.{ext}",
                category="Figures",
            )
            if ext == "png"
            else f"results/figures/{fig}.{ext}"
            for fig in FIGURES
            for ext in ["pdf", "png"]
        },
    conda:
        "../envs/eigscale.yaml"
    log:
        "results/logs/plots.log",
    script:
        "../scripts/plots.py"
