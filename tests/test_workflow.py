"""The Snakemake workflow for real: download -> evaluate -> oracle -> analysis -> figures.

Runs `.test/config.yaml` (the default config, smaller) end to end in a scratch directory, then
checks what a user gets and what a config edit would rerun.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from .helpers import REPO, TEST_CONFIG, chromium, planned_jobs, snakemake

pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def config_file(default_config) -> Path:
    return default_config


@pytest.fixture(scope="module")
def workflow_run(default_workflow) -> Path:
    """The session's one run of .test/config.yaml (conftest.py); read, never written to."""
    return default_workflow


def test_metrics_table(workflow_run):
    runs = pd.read_csv(workflow_run / "results/metrics/runs.csv")
    assert sorted(runs["run"]) == ["baseline", "bf_32", "bf_64", "eig"]
    assert runs["accuracy"].between(0, 1).all() and runs["accuracy_stderr"].notna().all()
    assert (runs["questions"] == 4).all()
    eig = runs[runs["scaler"] == "expected_information_gain_reasoning"]
    assert (eig["decisions"] > 0).all() and (eig["mc_tokens"] > 0).all()
    bf = runs.set_index("run").loc[["bf_32", "bf_64"]]
    assert (bf["thinking_mean"] <= bf["max_tokens_thinking"]).all()
    assert bf.loc["bf_32", "thinking_mean"] <= bf.loc["bf_64", "thinking_mean"]
    questions = pd.read_csv(workflow_run / "results/metrics/questions.csv")
    assert len(questions) == 4 * 4
    assert set(questions["correct"].dropna().unique()) <= {0, 1}


def test_no_decision_holds_two_classes_the_grader_calls_equal(workflow_run):
    """On the real decisions of the workflow's EIG run: every class is one answer to the
    grader, and the candidates drawn are all accounted for (gradable, unparsed or cut)."""
    from itertools import combinations

    from eigscale.grading import same_class

    seen = 0
    for line in (workflow_run / "results/runs/smollm2/demo_arith/eig/decisions.jsonl"
                 ).read_text().splitlines():
        for d in json.loads(line)["decisions"]:
            classes = [c for c in d["candidates"] if c != "(other)"]
            assert not any(same_class(a, b, "integer") for a, b in combinations(classes, 2)), d
            if d["failure"] is None:  # every answer drawn is gradable, unparsed or cut
                assert d["gradable"] == [sum(row) for row in d["scores"]["counts"]]
                drawn = {g + u + t for g, u, t in zip(d["gradable"], d["unparsed"],
                                                      d["truncated"], strict=True)}
                assert len(drawn) == 1, d  # beam_size in every context
                seen += 1
    assert seen > 0


def test_every_figure_exists_and_is_not_empty(workflow_run):
    for fig in ("accuracy_vs_tokens", "eig_trajectories", "cost_breakdown", "oracle_heatmap",
                "regret"):
        for ext in ("pdf", "png"):
            path = workflow_run / "results/figures" / f"{fig}.{ext}"
            assert path.stat().st_size > 5000, path


def test_provenance_is_recorded(workflow_run):

    prov = json.loads((workflow_run / "results/runs/smollm2/demo_arith/eig/provenance.json")
                      .read_text())
    assert prov["settings"]["run"]["params"]["lambda_cost"] == 0.05
    assert prov["seed"] == 1234 and "lm-eval" in prov["versions"]
    assert re.fullmatch(r"[0-9a-f]{40}|unknown", prov["git_commit"])


def test_replayed_sweep_is_one_job_and_its_runs_say_so(workflow_run):

    for run, cap in (("bf_32", 32), ("bf_64", 64)):
        prov = json.loads((workflow_run / f"results/runs/smollm2/demo_arith/{run}/provenance.json")
                          .read_text())
        assert sorted(prov["replay"]["runs"]) == ["bf_32", "bf_64"]
        results = json.loads((workflow_run / f"results/runs/smollm2/demo_arith/{run}/results.json")
                             .read_text())
        summary = results["eigscale"]["demo_arith"]
        assert summary["replay"]["runs"] == 2 and summary["params"]["max_tokens_thinking"] == cap
    logs = list((workflow_run / "results/logs/evaluate_replay").rglob("*.log"))
    assert [p.name for p in logs] == ["bf.log"]
    assert "replay of 2 runs" in logs[0].read_text()


def test_editing_one_run_reruns_only_that_run(workflow_run, config_file, tmp_path):
    config = yaml.safe_load(config_file.read_text())
    assert planned_jobs(snakemake(workflow_run, "-n", "--configfile", str(config_file)))[0] \
        == {}, "a finished workflow should have nothing to do"
    config["runs"]["eig"]["params"]["lambda_cost"] = 0.07
    edited = tmp_path / "edited.yaml"
    edited.write_text(yaml.safe_dump(config))
    stats, runs = planned_jobs(snakemake(workflow_run, "-n", "--configfile", str(edited)))
    assert stats == {"evaluate": 1, "extract_metrics": 1, "analysis": 1, "tables": 1,
                     "plots": 1, "all": 1}
    assert runs == ["eig"]


@pytest.mark.parametrize("key, value, reruns", [
    ("bootstrap", 500, {"analysis", "tables", "plots", "all"}),
    ("oracle_step", 16, {"oracle", "analysis", "tables", "plots", "all"}),
])
def test_editing_the_analysis_reruns_only_what_depends_on_it(workflow_run, config_file, tmp_path,
                                                             key, value, reruns):
    config = yaml.safe_load(config_file.read_text())
    config.setdefault("analysis", {})[key] = value
    edited = tmp_path / "edited.yaml"
    edited.write_text(yaml.safe_dump(config))
    stats, _ = planned_jobs(snakemake(workflow_run, "-n", "--configfile", str(edited)))
    assert set(stats) == reruns and all(n == 1 for n in stats.values())


def test_oracle_grid_agrees_with_the_budget_forcing_runs(workflow_run):
    """The grid's trace is the bf sweep's (greedy, cap 64 = the largest cap of any run): its
    correctness at each cap's cut is that run's, question by question."""
    grid = pd.read_csv(workflow_run / "results/oracle/smollm2/demo_arith/grid.csv")
    assert sorted(grid["doc_id"].unique()) == [0, 1, 2, 3]
    for _, rows in grid.groupby("doc_id"):
        end = rows["end"].iloc[0]
        assert 0 < end <= 64
        assert rows["t"].tolist() == [*range(0, end, 32), end]
        assert set(rows["correct"]) <= {0, 1}
    questions = pd.read_csv(workflow_run / "results/metrics/questions.csv")
    for run, cap in (("bf_32", 32), ("bf_64", 64)):
        q = questions[questions["run"] == run].set_index("doc_id")
        for doc, rows in grid.groupby("doc_id"):
            cut = rows[rows["t"] == min(cap, rows["end"].iloc[0])].iloc[0]
            assert q.loc[doc, "thinking_tokens"] == cut["t"], (run, doc)
            assert q.loc[doc, "correct"] == cut["correct"], (run, doc)


def test_analysis_and_tables(workflow_run):
    ops = pd.read_csv(workflow_run / "results/analysis/operating_points.csv")
    assert sorted(ops["run"]) == ["baseline", "bf_32", "bf_64", "eig"]
    assert ((ops["accuracy_lo"] <= ops["accuracy"]) & (ops["accuracy"] <= ops["accuracy_hi"])).all()
    # the oracle solves at least what any rule solves with as many thinking tokens, or the
    # rule found answers the oracle's trace never holds (possible only for a rule off its trace)
    on_trace = ops[ops["scaler"] == "budget_forcing"]
    assert (on_trace["regret_thinking"] >= 0).all()
    # on the compute axis too: a cap's run is charged what the grid's cut is, from the engine
    assert (on_trace["regret_fc"] >= -1e-9).all()
    frontiers = pd.read_csv(workflow_run / "results/analysis/frontiers.csv")
    for axis in ("compute", "thinking"):
        on = frontiers[frontiers["axis"] == axis]
        sc = on[on["curve"] == "oracle_sc"]["accuracy"].to_numpy()
        fixed = on[on["curve"] == "fixed"]["accuracy"].to_numpy()
        assert (sc[1:] >= sc[:-1]).all()  # more budget never hurts the oracle
        assert sc[-1] >= fixed[-1]  # with the whole trace, the oracle is at least a cap
    matched = pd.read_csv(workflow_run / "results/analysis/matched.csv")
    # no random-stop sweep here; the paired timing control for the adaptive rule
    assert set(matched["reference"]) == {"budget_forcing", "random_stop_matched"}
    assert set(matched[matched["reference"] == "budget_forcing"]["run"]) == {"baseline", "eig"}
    assert set(matched[matched["reference"] == "random_stop_matched"]["run"]) == {"eig"}
    inside = matched["position"] == "inside"  # interpolated there, never outside the curve
    assert (matched.loc[inside, "reference_x_lo"] <= matched.loc[inside, "x"]).all()
    paired = matched["position"] == "paired"  # the timing control: no curve, the same trace
    assert (matched.loc[paired, "reference"] == "random_stop_matched").all() and paired.any()
    tested = inside | paired
    assert matched.loc[tested, "p_gain"].between(0, 1).all()
    assert matched.loc[~tested, "gain"].isna().all()
    for table in ("operating_points", "matched_compute", "oracle"):
        md = (workflow_run / f"results/tables/{table}.md").read_text()
        assert "## demo_arith (smollm2)" in md
        tex = (workflow_run / f"results/tables/{table}.tex").read_text()
        assert tex.count(r"\begin{tabular}") == tex.count(r"\end{tabular}") == 1
    md = (workflow_run / "results/tables/operating_points.md").read_text()
    assert all(f"| {run} |" in md for run in ("baseline", "eig")) and "bf = 32" in md


def test_lint_is_clean():
    proc = snakemake(REPO, "--lint", "--configfile", str(TEST_CONFIG), timeout=300)
    assert proc.returncode == 0 and "Lints for" not in proc.stdout + proc.stderr


@pytest.mark.parametrize("edit,names", [
    (lambda c: c["models"]["smollm2"].update(engine="tpu"), ["models.smollm2.engine", "tpu"]),
    (lambda c: c["tasks"].update(mmlu={}), ["mmlu"]),
    (lambda c: c["runs"]["eig"]["params"].update(lambda_cots=1), ["lambda_cots", "eig"]),
    (lambda c: c["runs"]["baseline"].update(scaler="magic"), ["runs.baseline.scaler", "magic"]),
    (lambda c: c["models"]["smollm2"].pop("source"), ["source"]),
    (lambda c: c.update(extra_key=1), ["extra_key"]),
    (lambda c: c["tasks"]["demo_arith"].update(limit="ten"), ["tasks.demo_arith.limit", "ten"]),
    (lambda c: c["models"]["smollm2"].update(gpus=-1), ["models.smollm2.gpus", "-1"]),
    (lambda c: c["sweeps"]["bf"].update(preset="nope"), ["sweeps.bf.preset", "nope"]),
    (lambda c: c["sweeps"].update(eig={"preset": "small_eig", "vary": "beam_size",
                                       "values": [2, 4], "replay": True}),
     ["sweeps.eig.replay", "beam_size", "replay: false"]),
    # two taus with no level of the sampled entropy between them: one run twice
    (lambda c: c["sweeps"].update(entropy={"scaler": "answer_entropy", "vary": "tau",
                                           "values": [0.1, 0.3, 0.6]}),
     ["sweeps.entropy.values", "[0.1, 0.3]", "0.439", "levels"]),
])
def test_config_errors_name_the_key_and_the_file(tmp_path, edit, names):
    config = yaml.safe_load(TEST_CONFIG.read_text())
    edit(config)
    bad = tmp_path / "bad_config.yaml"
    bad.write_text(yaml.safe_dump(config))
    proc = snakemake(tmp_path, "-n", "--configfile", str(bad), timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "bad_config.yaml" in out
    for name in names:
        assert name in out, (name, out[-2000:])


# what the report must show: (category, label), and a phrase of what is shown / of its caption
REPORT_FIGURES = {"accuracy_vs_tokens": "paired bootstrap", "oracle_heatmap": "stays-correct",
                  "regret": "A*_SC", "eig_trajectories": "lambda_cost",
                  "cost_breakdown": "Where the compute goes"}
REPORT_TABLES = {"operating_points": ("accuracy % [95% CI]", "headroom"),
                 "matched_compute": ("Bonferroni p", "interpolated"),
                 "oracle": ("stays correct %", "overthinking")}


@pytest.fixture(scope="module")
def report(workflow_run, config_file, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("report") / "report.html"
    proc = snakemake(workflow_run, "--configfile", str(config_file), "--report", str(path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return path


@pytest.mark.service
def test_the_report_shows_every_figure_and_table_in_a_browser(report):
    """snakemake --report, opened in a real headless chromium: the workflow description with
    this config, every figure drawn (an image of real width) and every table shown (its
    columns in the page the report embeds), each with its caption."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(report.as_uri())
        home = page.inner_text("body")
        assert "Workflow." in home and "smollm2" in home and "demo_arith" in home
        for category, expected in (("Figures", REPORT_FIGURES), ("Tables", REPORT_TABLES)):
            seen = set()
            for name, phrase in expected.items():
                page.goto(report.as_uri())
                page.get_by_text(category, exact=True).first.click()
                row = page.locator("tbody tr").filter(has_text=name).first
                row.locator("a[iconname=eye]").click()
                if category == "Figures":
                    img = page.locator("img[src^='data:image/png']").first
                    img.wait_for()
                    assert img.evaluate("e => e.complete && e.naturalWidth") > 300, name
                else:
                    page.wait_for_function("document.querySelector('iframe') !== null")
                    frame = page.frames[-1]
                    assert phrase[0] in frame.inner_text("body"), name
                    assert "demo_arith (smollm2)" in frame.inner_text("body"), name
                row.locator("a[iconname=information-circle]").click()
                caption = phrase if category == "Figures" else phrase[1]
                page.get_by_text(caption).first.wait_for()
                seen.add(name)
            assert seen == set(expected)
        browser.close()
    assert errors == []
