"""Fair compute axes: what every rule is charged, the baseline's thinking, the new columns and
the figure's primary axis."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from eigscale.compute import ModelShape, question_cost
from eigscale.pipeline.figures import accuracy_vs_tokens
from eigscale.pipeline.metrics import extract
from eigscale.scalers.plain import NoneParams, Plain

from .helpers import ScriptedEngine

SMOL = {"hidden_size": 576, "num_hidden_layers": 30, "num_attention_heads": 9, "head_dim": 64,
        "num_key_value_heads": 3, "intermediate_size": 1536, "vocab_size": 49152}


def test_model_shape_counts_the_parameters_tokens_pass_through():
    shape = ModelShape.from_config(SMOL)
    per_layer = 576 * 576 * 2 + 576 * 192 * 2 + 3 * 576 * 1536
    assert shape.params == 30 * per_layer + 576 * 49152  # 134.5 M less the input embedding
    assert (shape.layers, shape.attention_width) == (30, 576)


def test_every_token_a_rule_makes_the_model_process_is_charged():
    rec = {"prompt_tokens": 100, "tokens": {"thinking": 50, "answer": 10, "candidate": 40,
                                            "mc": 30, "score_prompt": 500, "score_cached": 420}}
    cost = question_cost(rec, ModelShape(params=1e6, layers=2, attention_width=8))
    assert cost["generated"] == 50 + 10 + 40 + 30
    assert cost["prefilled"] == 100 + 80
    assert cost["processed"] == 130 + 180
    contexts = 100 * 100 / 2 + 50 * (100 + 25) + 10 * (150 + 5) + (70 + 80) * 150
    assert cost["flops"] == pytest.approx(2e6 * 310 + 4 * 2 * 8 * contexts)
    # the baseline: its whole output is generated compute, even if it has no thinking section
    plain = question_cost({"prompt_tokens": 100, "tokens": {"answer": 147}})
    assert plain["processed"] == 247 and plain["flops"] != plain["flops"]  # NaN: no shape


@pytest.fixture(scope="module")
def tokenizer(model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model_dir)


def test_the_baselines_own_thinking_counts(tokenizer):
    engine = ScriptedEngine(tokenizer, lambda n: ["x"])
    thinking = tokenizer.encode("So 2 + 2 is 4, clearly.", add_special_tokens=False)
    out = tokenizer.encode("So 2 + 2 is 4, clearly.</think>The answer is 4.",
                           add_special_tokens=False)
    r1 = Plain(NoneParams(thinking_end="</think>"))
    assert r1._thinking_tokens(engine, out) == len(thinking)
    assert Plain(NoneParams())._thinking_tokens(engine, out) == len(out)  # no section: all
    assert r1._thinking_tokens(engine, thinking) == len(thinking)  # never ended: all


def _folder(root, run, summary, records):
    folder = root / "m" / "t" / run
    folder.mkdir(parents=True)
    (folder / "results.json").write_text(json.dumps({
        "results": {"t": {"exact_match,none": 0.5, "exact_match_stderr,none": 0.1,
                          "unparsed,none": 0}}, "eigscale": {"t": summary}}))
    (folder / "samples.jsonl").write_text("".join(
        json.dumps({"doc_id": r["doc_id"], "exact_match": 1, "unparsed": 0}) + "\n"
        for r in records))
    (folder / "decisions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return str(folder / "results.json")


def _record(doc, thinking, answer, **tokens):
    return {"doc_id": doc, "prompt_tokens": 50, "thinking_tokens": thinking,
            "answer_tokens": answer, "stop_reason": "budget", "extensions": 0, "decisions": [],
            "tokens": {"thinking": thinking, "answer": answer, **tokens}}


def test_runs_table_has_total_compute_and_replayed_runs_have_no_time_of_their_own(tmp_path):
    files = [
        _folder(tmp_path, "baseline", {"questions": 2, "seconds": {"total": 9.0},
                                       "thinking_tokens_per_question": {"0": 140, "1": 150}},
                [_record(0, 140, 7), _record(1, 150, 5)]),
        _folder(tmp_path, "eig_0.5", {"questions": 2, "seconds": {"total": 96.0},
                                      "replay": {"runs": 3, "seconds": 96.0},
                                      "thinking_tokens_per_question": {"0": 30, "1": 40}},
                [_record(0, 30, 5, candidate=60, mc=100, score_prompt=300, score_cached=100),
                 _record(1, 40, 5, candidate=60, mc=100, score_prompt=300, score_cached=100)]),
    ]
    runs = {"baseline": {"scaler": "none"},
            "eig_0.5": {"scaler": "expected_information_gain_reasoning", "sweep": "eig",
                        "value": 0.5}}
    table, _ = extract(files, runs, {"m": SMOL})
    t = table.set_index("run")
    assert t.loc["baseline", "thinking_mean"] == 145  # the baseline's thinking is on the axis
    assert t.loc["baseline", "generated_tokens"] == 140 + 7 + 150 + 5
    assert t.loc["eig_0.5", "generated_tokens"] == 2 * (30 + 5 + 60 + 100) + 10
    assert t.loc["eig_0.5", "prefill_tokens_uncached"] == 2 * (50 + 200)
    assert t.loc["eig_0.5", "processed_mean"] > t.loc["baseline", "processed_mean"]
    assert (t["flops_mean"] > 0).all()
    assert pd.isna(t.loc["eig_0.5", "wall_seconds"])
    assert t.loc["eig_0.5", "sweep_wall_seconds"] == 96.0
    assert t.loc["baseline", "wall_seconds"] == 9.0

    # the figure's x axes, from the operating points the analysis makes of these columns
    ops = table.rename(columns={"flops_mean": "compute", "thinking_mean": "thinking"})
    fig = accuracy_vs_tokens(ops.assign(accuracy_lo=0.4, accuracy_hi=0.6, compute_unit="flops"))
    labels = [ax.get_xlabel() for ax in fig.axes]
    assert labels[0].startswith("total compute") and labels[-1].startswith("thinking tokens")


def test_each_sampled_trace_is_a_row_with_the_graders_own_verdict(tmp_path):
    folder = tmp_path / "m" / "t" / "baseline"
    folder.mkdir(parents=True)
    (folder / "results.json").write_text(json.dumps({
        "results": {"t": {"exact_match,none": 0.5}},
        "eigscale": {"t": {"questions": 4, "samples": 2}}}))
    # lm-eval's samples: one line per question, the grader's verdict on each of its traces
    (folder / "samples.jsonl").write_text("".join(json.dumps(s) + "\n" for s in [
        {"doc_id": 0, "exact_match": 0.5, "unparsed": 1, "sample_correct": [1, 0],
         "sample_unparsed": [0, 1]},
        {"doc_id": 1, "exact_match": 0.5, "unparsed": 0, "sample_correct": [0, 1],
         "sample_unparsed": [0, 0]}]))
    (folder / "decisions.jsonl").write_text("".join(
        json.dumps({**_record(d, 10 * (j + 1), 5), "sample": j}) + "\n"
        for d in (0, 1) for j in (0, 1)))
    runs_df, questions = extract([str(folder / "results.json")], {"baseline": {"scaler": "none"}})
    assert runs_df["samples"].tolist() == [2]
    q = questions.set_index(["doc_id", "sample"])
    assert q["correct"].to_dict() == {(0, 0): 1, (0, 1): 0, (1, 0): 0, (1, 1): 1}
    assert q["unparsed"].to_dict() == {(0, 0): 0, (0, 1): 1, (1, 0): 0, (1, 1): 0}
    assert q.loc[(1, 1), "thinking_tokens"] == 20  # each trace its own record
