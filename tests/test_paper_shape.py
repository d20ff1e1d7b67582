"""config/paper.yaml's shape, scaled down to the tiny model, through lm-eval on vLLM: every
question's own prompt reaches the engine whole, thinking opens once, answers are forced."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from eigscale.pipeline import run_config
from eigscale.scalers import SCALERS
from eigscale.scalers.base import question_uid

from .helpers import REPO, reasoning_template_model
from .paper_shape import CONTEXT, QUESTIONS, SAMPLES, scaled_down

PAPER = REPO / "config" / "paper.yaml"
SHAPE = scaled_down(yaml.safe_load(PAPER.read_text()))
# every run of the shape config (its runs, each sweep's values): the driver evaluates them all
SHAPE_RUNS = set(run_config.runs(SHAPE))
# traces per question: the paper's R1 samples (T 0.6, top-p 0.95), s1 is greedy
TRACES = {"r1-shape": SAMPLES, "s1-shape": 1}


def test_the_shape_is_the_papers():
    shape, paper = SHAPE, yaml.safe_load(PAPER.read_text())
    ratio = {m["max_model_len"] for m in paper["models"].values()}
    assert {paper["generation"]["max_gen_toks"]} == ratio  # the paper: max_gen_toks == context
    assert {m["max_model_len"] for m in shape["models"].values()} == \
        {shape["generation"]["max_gen_toks"]}
    assert sorted(m["thinking_format"] for m in shape["models"].values()) == \
        sorted(m["thinking_format"] for m in paper["models"].values())
    assert shape["runs"].keys() == paper["runs"].keys()
    assert shape["sweeps"].keys() == paper["sweeps"].keys()
    assert shape["generation"]["apply_chat_template"] is paper["generation"][
        "apply_chat_template"] is True
    scalers = {r["scaler"] for r in shape["runs"].values()} | {
        s.get("scaler", "expected_information_gain_reasoning") for s in shape["sweeps"].values()}
    assert scalers == set(SCALERS)  # every rule in the paper grid, and so at its shape
    # lengths scale with the context, one value per sweep, and a paper's sweep keeps its knobs
    assert shape["runs"]["wait_2"]["params"] == {"max_tokens_thinking": 125,
                                                 "thinking_n_ignore": 2}
    assert shape["sweeps"]["bf"]["values"] == [8]
    # the rules whose decisions sample list three seeds in the paper; at its shape one each
    sampled = {"eig", "entropy", "dynasor_32", "dynasor_64", "dynasor_native", "random"}
    assert {n for n, s in paper["sweeps"].items() if len(s.get("seeds", [])) >= 3} == sampled
    assert all(len(shape["sweeps"][n]["seeds"]) == 1 for n in sampled)
    for name, s in shape["sweeps"].items():
        assert len(s["values"]) == 1 and s["values"][0] in paper["sweeps"][name]["values"] + [8]
        assert set(s["params"]) - {"max_computation_time"} == \
            set(paper["sweeps"][name].get("params") or {})


@pytest.fixture(scope="module")
def shape_runs(model_dir, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("paper_shape")
    r1 = reasoning_template_model(model_dir, tmp / "r1-model")
    out, config = tmp / "out.json", tmp / "paper_shape.yaml"
    config.write_text(yaml.safe_dump(SHAPE, sort_keys=False))
    proc = subprocess.run(
        [sys.executable, "-m", "tests.shape_driver", str(config), f"s1-shape={model_dir}",
         f"r1-shape={r1}", str(out)], cwd=REPO, capture_output=True, text=True, timeout=1500,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"})
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(out.read_text()), {"s1-shape": model_dir, "r1-shape": r1}


@pytest.mark.engine
def test_every_question_reaches_the_engine_whole(shape_runs):
    from transformers import AutoTokenizer

    runs, folders = shape_runs
    assert set(runs) == {"s1-shape", "r1-shape"}
    for model, by_run in runs.items():
        tok = AutoTokenizer.from_pretrained(folders[model])
        assert set(by_run) == {*SHAPE_RUNS, "oracle"}
        for run, r in by_run.items():
            if run == "oracle":
                continue
            lengths = r["summary"]["lengths"]
            assert lengths["prompts_cut"] == 0 and lengths["derived"], (model, run)
            assert lengths["max_gen_toks"] == lengths["max_model_len"] == CONTEXT
            assert lengths["gen_budget"] == CONTEXT - lengths["longest_prompt"]
            records = {(str(x["doc_id"]), x["sample"]): x for x in r["records"]}
            assert len(records) == QUESTIONS * TRACES[model]
            uids = set()
            for (doc, j), rec in records.items():
                text = r["prompts"][doc]
                ids = tok(text, add_special_tokens=False)["input_ids"]
                # the whole prompt, and the trace's own index: each sample its own seeds
                assert rec["uid"] == question_uid(ids, j), (model, run, doc)
                uids.add(rec["uid"])
                if run == "baseline":
                    assert rec["prompt_tokens"] == len(ids)
                else:  # thinking opens once: r1's template opened it already
                    start = tok("<|im_start|>think", add_special_tokens=False)["input_ids"]
                    opened = text.endswith("<think>\n")
                    assert opened == (model == "r1-shape")
                    assert rec["prompt_tokens"] == len(ids) + (0 if opened else len(start))
                    assert text.count("<think>") <= 1
            assert len(uids) == QUESTIONS * TRACES[model]  # distinct traces, distinct seeds


@pytest.mark.engine
def test_no_decision_holds_two_classes_the_grader_calls_equal(shape_runs):
    from itertools import combinations

    from eigscale.grading import same_class

    runs, _ = shape_runs
    decided = 0
    for by_run in runs.values():
        for run, r in by_run.items():
            for rec in r.get("records", []):
                for d in rec["decisions"]:
                    if d.get("estimator") is None:
                        continue  # not a posterior decision (Dynasor, DEER, random stop)
                    classes = [c for c in d["candidates"] if c != "(other)"]
                    assert not any(same_class(a, b, "integer")
                                   for a, b in combinations(classes, 2)), (run, d)
                    decided += 1
    assert decided > 0


@pytest.mark.engine
def test_every_run_answers_within_the_context(shape_runs):
    runs, _ = shape_runs
    for model, by_run in runs.items():
        for run, r in by_run.items():
            if run == "oracle":
                continue
            s = r["summary"]
            assert s["questions"] == QUESTIONS * TRACES[model]
            assert s.get("failed_questions", 0) == 0, (model, run)
            assert s["samples"] == TRACES[model]
            # the task's grader graded every trace: pass@1 is the mean of its verdicts
            assert all(len(v) == TRACES[model] for v in r["graded"].values()), run
            assert r["metrics"]["exact_match,none"] == pytest.approx(
                sum(map(sum, r["graded"].values())) / (QUESTIONS * TRACES[model]))
            for rec in r["records"]:
                total = rec["prompt_tokens"] + rec["thinking_tokens"] + rec["answer_tokens"]
                assert total <= CONTEXT
                if run != "baseline":
                    assert rec["thinking_tokens"] <= s["budget"]
                    assert rec["answer"].strip() or rec["answer_finish"] == "stop"
            assert 0 <= r["metrics"]["exact_match,none"] <= 1


@pytest.mark.engine
def test_the_oracle_grid_at_the_papers_shape(shape_runs):
    """max_gen_toks == max_model_len: every cut of the oracle's trace (capped at the largest
    cap of any run) gets its forced answer within the context, on the grid's steps."""
    runs, _ = shape_runs
    for model, by_run in runs.items():
        oracle = by_run["oracle"]
        assert oracle["cap"] == 125 and oracle["step"] == 64  # wait_2's 8000 / 64
        by_trace: dict = {}  # the grid is per trace: k of them per question
        for row in oracle["grid"]:
            by_trace.setdefault((row["doc_id"], row["sample"]), []).append(row)
        assert sorted(by_trace) == [(d, j) for d in range(QUESTIONS)
                                    for j in range(TRACES[model])]
        for rows in by_trace.values():
            end = rows[0]["end"]
            assert 0 < end <= oracle["cap"]
            assert [r["t"] for r in rows] == [*range(0, end, 64), end], model
            for r in rows:
                assert r["prompt_tokens"] + r["t"] + r["answer_tokens"] <= CONTEXT
                # a forced answer is written at every cut; at a natural end SmolLM2 under
                # the r1 format may write nothing after </think> (s1-faithful: no prompt)
                assert r["answer_tokens"] > 0 or r["t"] == end, (model, r["t"])
                assert r["stop_reason"] == "budget" if r["t"] < end else \
                    r["stop_reason"] in ("budget", "natural_end")
