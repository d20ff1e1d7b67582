localrules:
    plots,


rule plots:
    input:
        runs="results/metrics/runs.csv",
        questions="results/metrics/questions.csv",
        operating_points="results/analysis/operating_points.csv",
        frontiers="results/analysis/frontiers.csv",
        grids=expand("results/oracle/{model}/{task}/grid.csv", model=MODELS, task=TASKS),
    output:
        **{
            f"{fig}_{ext}": (
                report(
                    f"results/figures/{fig}.{ext}",
                    caption=f"../report/{fig}.rst",
                    category="Figures",
                    labels={"figure": fig},
                )
                if ext == "png"
                else f"results/figures/{fig}.{ext}"
            )
            for fig in FIGURES
            for ext in ["pdf", "png"]
        },
    conda:
        "../envs/eigscale.yaml"
    log:
        "results/logs/plots.log",
    script:
        "../scripts/plots.py"
