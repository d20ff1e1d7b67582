"""The oracle quantities, the paired statistics and the table writers, on hand-made inputs whose
answers are worked out by hand in the comments."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from eigscale.pipeline.analysis import Settings, analyse
from eigscale.pipeline.frontier import (
    Axis,
    Grid,
    Resampled,
    fixed_budget,
    fixed_budget_at,
    oracle_at,
    oracle_choice,
    points,
    standing,
)
from eigscale.pipeline.stats import interval, mcnemar, mean_interval, resample_weights
from eigscale.pipeline.tables import (
    TABLES,
    latex_escape,
    to_latex,
    to_markdown,
    with_interval,
    write_table,
)

# c_i(t), step 10:
#   q0 T=30: 0 1 1 1   FC 10, SC 10
#   q1 T=20: 1 0 1     FC 0,  SC 20 (right by chance at 0, wrong at 10)
#   q2 T=30: 0 1 0 0   FC 10, SC never (the end is wrong)
#   q3 T=10: 0 0       never right
CELLS = {0: [0, 1, 1, 1], 1: [1, 0, 1], 2: [0, 1, 0, 0], 3: [0, 0]}


def grid_rows(cells: dict[int, list[int]] = CELLS, step: int = 10) -> pd.DataFrame:
    rows = []
    for doc, cs in cells.items():
        end = step * (len(cs) - 1)
        rows += [{"doc_id": doc, "t": step * k, "end": end, "correct": c,
                  "prompt_tokens": 5, "answer_tokens": 3} for k, c in enumerate(cs)]
    return pd.DataFrame(rows)


@pytest.fixture
def grid() -> Grid:
    return Grid.from_frame(grid_rows())


def test_first_and_stays_correct(grid):
    p = points(grid).set_index("doc_id")
    assert p["first_correct"].tolist()[:3] == [10, 0, 10] and math.isnan(p.loc[3,
                                                                                "first_correct"])
    assert p.loc[0, "stays_correct"] == 10 and p.loc[1, "stays_correct"] == 20
    assert p[["stays_correct"]].loc[[2, 3]].isna().all().all()
    # overthinking: T - FC; after stabilisation: T - SC
    assert p["overthinking"].tolist()[:3] == [20, 20, 20]
    assert p.loc[0, "after_stable"] == 20 and p.loc[1, "after_stable"] == 0
    assert p["end_correct"].tolist() == [1, 1, 0, 0]


def test_a_trace_shorter_than_a_step_keeps_the_grid():
    # q1 ends at 4 thinking tokens: its cuts are 0 and 4, the grid's step is still 10
    rows = pd.concat([grid_rows({0: [0, 1, 1]}), pd.DataFrame(
        [{"doc_id": 1, "t": t, "end": 4, "correct": 1, "prompt_tokens": 5, "answer_tokens": 3}
         for t in (0, 4)])])
    g = Grid.from_frame(rows)
    assert g.cuts.tolist() == [0, 10, 20]
    assert g.correct.tolist() == [[0, 1, 1], [1, 1, 1]]
    assert fixed_budget(Axis.thinking(g))[0].tolist() == [0, 7, 12]


def test_fixed_budget_frontier(grid):
    # caps 0, 10, 20, 30: correctness at min(B, T_i) and the mean thinking it costs
    assert grid.cuts.tolist() == [0, 10, 20, 30]
    thinking = Axis.thinking(grid)
    tokens, acc = fixed_budget(thinking)
    assert tokens.tolist() == [0, 10, 17.5, 22.5]
    assert acc.tolist() == [0.25, 0.5, 0.5, 0.5]
    assert fixed_budget_at(thinking, 5) == pytest.approx(0.375)  # between caps 0 and 10
    assert fixed_budget_at(thinking, 100) == 0.5  # beyond the longest trace: its end


def test_oracle_frontiers(grid):
    # SC costs 10, 20, never, never; giving up costs 0 thinking tokens
    assert [oracle_at(grid.sc, b) for b in (0, 2.5, 5, 7.5, 100)] == [0, .25, .25, .5, .5]
    # FC costs 10, 0, 10, never: q1 is free, then q0 and q2 for 10 each
    assert [oracle_at(grid.fc, b) for b in (0, 2.5, 5, 100)] == [.25, .5, .75, .75]
    assert oracle_choice(grid.sc, 7.5).tolist() == [10, 20, 0, 0]
    # weights: q0 twice, q1 not drawn: at a mean budget of 5 the 20 tokens buy both copies
    assert oracle_at(grid.sc, 5, np.array([2, 0, 1, 1])) == 0.5
    assert oracle_at(grid.sc, 4, np.array([2, 0, 1, 1])) == 0.25  # 16 tokens: one copy


def test_the_oracles_on_a_compute_axis(grid):
    # stopping costs 100 per question plus 1 per thinking token, but q1's answer at cut 20
    # costs 50 more (a long forced answer) and q0's at cut 0 costs 30 more
    cost = 100 + np.minimum(grid.cuts[None, :], grid.ends[:, None]).astype(float)
    cost[1, 2:] += 50
    cost[0, 0] += 30
    axis = Axis.of(grid, cost, "flops")
    # giving up answers at the cheapest cut: q0 at 10 (110 < 130), the others at 0
    assert axis.give_up.tolist() == [110, 100, 100, 100]
    # first-correct: the cheapest right cut; q1 is right at 0 (100)
    assert axis.fc[:3].tolist() == [110, 100, 110] and np.isinf(axis.fc[3])
    # stays-correct: the cost at SC (q0 at 10, q1 at 20 with its long answer)
    assert axis.sc[:2].tolist() == [110, 170] and np.isinf(axis.sc[2:]).all()
    # A*_SC: q0 solved for no extra, q1 for 70 extra: at a mean 410/4 giving up costs all
    assert oracle_at(axis.sc, 102.5, give_up=axis.give_up) == 0.25
    assert oracle_at(axis.sc, 102.5 + 70 / 4, give_up=axis.give_up) == 0.5
    # F on this axis: each cap's mean cost
    xs, acc = fixed_budget(axis)
    assert acc.tolist() == [0.25, 0.5, 0.5, 0.5]
    assert xs.tolist() == [107.5, 110, 130, 135] and fixed_budget_at(axis, 108.75) == 0.375


def test_regret_and_headroom(grid):
    # stops at 10 and 20 on q0/q1, gives up on q2/q3: the oracle's own choice at 7.5 tokens
    grid = Axis.thinking(grid)
    best = standing(grid, np.array([1, 1, 0, 0]), np.array([10, 20, 0, 0]))
    assert (best.accuracy, best.spent, best.oracle_sc) == (0.5, 7.5, 0.5)
    assert best.fixed == pytest.approx(0.4375)  # 0.25 + 0.75 * (0.5 - 0.25)
    assert best.regret == 0 and best.headroom == pytest.approx(1.0)
    # against first-correct: q1 free, q0 and q2 for 10 each fit 4 x 7.5 tokens
    assert best.oracle_fc == 0.75 and best.regret_fc == pytest.approx(0.25)
    assert best.headroom_fc == pytest.approx(0.0625 / 0.3125)
    # the same tokens, one question wrong: regret 25 points, worse than a fixed cap
    worse = standing(grid, np.array([1, 0, 0, 0]), np.array([10, 20, 0, 0]))
    assert worse.regret == pytest.approx(0.25)
    assert worse.headroom == pytest.approx((0.25 - 0.4375) / 0.0625)
    # where the oracle has no headroom over the fixed cap, captured headroom is undefined
    flat = standing(grid, np.array([1, 1, 0, 0]), np.array([10, 20, 30, 10]))
    assert flat.regret == 0 and math.isnan(flat.headroom)


def test_resampled_equals_one_at_a_time(grid):
    weights = resample_weights(4, 200, seed=3)
    correct, thinking = np.array([1, 0, 1, 0]), np.array([10, 20, 0, 10])
    for which, suffix in (("sc", ""), ("fc", "_fc")):
        cost = 3 + np.minimum(grid.cuts[None, :], grid.ends[:, None]) * [[1], [2], [1], [3]]
        for axis in (Axis.thinking(grid), Axis.of(grid, cost, "processed_tokens")):
            regret, headroom = Resampled(axis, weights).regret_headroom(correct, thinking,
                                                                        which)
            for r in range(0, 200, 7):
                one = standing(axis, correct, thinking, weights[r])
                assert regret[r] == pytest.approx(getattr(one, "regret" + suffix))
                h = getattr(one, "headroom" + suffix)
                assert (math.isnan(h) and math.isnan(headroom[r])) or \
                    headroom[r] == pytest.approx(h)


def test_resample_weights_are_seeded_draws_of_n():
    w = resample_weights(50, 1000, seed=7)
    assert w.shape == (1000, 50) and (w.sum(axis=1) == 50).all()
    assert (w == resample_weights(50, 1000, seed=7)).all()
    assert (w != resample_weights(50, 1000, seed=8)).any()
    assert w.mean() == pytest.approx(1.0)  # every question equally likely


def test_bootstrap_interval_of_a_proportion_matches_its_normal_approximation():
    # 30 of 100 right: standard error sqrt(.3 .7 / 100) = 0.0458, 95% about +-0.090
    x = np.array([1] * 30 + [0] * 70)
    mean, lo, hi = mean_interval(x, resample_weights(100, 10_000, seed=0))
    assert mean == 0.3
    assert lo == pytest.approx(0.3 - 1.96 * 0.0458, abs=0.012)
    assert hi == pytest.approx(0.3 + 1.96 * 0.0458, abs=0.012)


def test_paired_difference_interval():
    w = resample_weights(40, 5000, seed=1)
    a = np.array([1, 0] * 20)
    # identical runs: no difference in any resample
    assert mean_interval(a - a, w) == (0.0, 0.0, 0.0)
    # one question flipped to right: the difference is 1/40 or 0 (when it is not drawn)...
    b = a.copy()
    b[1] = 1
    d, lo, hi = mean_interval(b - a, w)
    assert d == 0.025 and lo == 0.0 and 0.025 <= hi <= 0.1
    # ...where unpaired intervals of the two accuracies overlap almost entirely
    assert mean_interval(a, w)[2] > mean_interval(b, w)[1]


def test_interval_percentiles():
    assert interval(np.arange(101.0), 0.9) == pytest.approx((5.0, 95.0))
    assert interval(np.array([np.nan, 1.0, 1.0])) == (1.0, 1.0)
    assert all(math.isnan(v) for v in interval(np.array([np.nan])))


def test_mcnemar_exact():
    # 1 vs 9 discordant pairs: p = 2 (C(10,0) + C(10,1)) / 2^10
    a = [1] * 1 + [0] * 9 + [1] * 5
    b = [0] * 1 + [1] * 9 + [1] * 5
    assert mcnemar(a, b) == (1, 9, 2 * 11 / 1024)
    assert mcnemar(b, a) == (9, 1, 2 * 11 / 1024)
    assert mcnemar([1, 0, 1], [1, 0, 1]) == (0, 0, 1.0)  # no discordant pair
    assert mcnemar([1, 0], [0, 1])[2] == 1.0  # balanced split
    scipy_stats = pytest.importorskip("scipy.stats")
    for n10, n01 in ((3, 12), (0, 6), (20, 31)):
        a = [1] * n10 + [0] * n01
        b = [0] * n10 + [1] * n01
        assert mcnemar(a, b)[2] == pytest.approx(
            scipy_stats.binomtest(n10, n10 + n01, 0.5).pvalue)


def _runs_and_questions():
    # budget forcing caps 10 and 30, and one other rule (two thresholds), on the grid's docs
    specs = {"bf_10": ("budget_forcing", "bf", 10, [1, 0, 1, 0], [10, 10, 10, 10]),
             "bf_30": ("budget_forcing", "bf", 30, [1, 1, 1, 0], [30, 20, 30, 10]),
             "rule_1": ("answer_entropy", "rule", 1.0, [1, 1, 0, 0], [10, 20, 0, 0]),
             "rule_2": ("answer_entropy", "rule", 2.0, [1, 0, 0, 0], [10, 0, 0, 0]),
             "rule_3": ("answer_entropy", "rule", 3.0, [1, 1, 1, 0], [20, 20, 20, 20]),
             "rs_a": ("random_stop", "random", 0.5, [1, 0, 0, 0], [10, 10, 0, 0]),
             "rs_b": ("random_stop", "random", 0.1, [1, 1, 0, 0], [20, 20, 20, 20])}
    runs, questions = [], []
    for run, (scaler, sweep, value, correct, thinking) in specs.items():
        runs.append({"model": "m", "task": "t", "run": run, "scaler": scaler,
                     "sweep": sweep, "value": value})
        questions += [{"model": "m", "task": "t", "run": run, "doc_id": i, "correct": c,
                       "thinking_tokens": k, "answer_tokens": 3, "processed_tokens": 5 + k + 3,
                       "flops": float("nan")}
                      for i, (c, k) in enumerate(zip(correct, thinking, strict=True))]
    return pd.DataFrame(runs), pd.DataFrame(questions)


def test_analyse_end_to_end_on_the_hand_made_grid():
    runs, questions = _runs_and_questions()
    tables = analyse(runs, questions, grid_rows().assign(model="m", task="t"),
                     Settings(bootstrap=500, seed=0))
    ops = tables["operating_points"].set_index("run")
    assert ops.loc["rule_1", "regret"] == 0 and ops.loc["rule_1", "headroom"] == 1.0
    assert ops.loc["rule_1", "headroom_thinking"] == 1.0
    assert ops.loc["rule_2", "accuracy"] == 0.25 and ops.loc["rule_2", "thinking"] == 2.5
    assert ops.loc["bf_30", "compute"] == 8 + 22.5  # tokens processed: no FLOPs without shape
    assert (ops["answer"] == 3).all()  # answer tokens, beside thinking
    assert (ops["accuracy_lo"] <= ops["accuracy"]).all()
    assert (ops["accuracy"] <= ops["accuracy_hi"]).all()
    m = tables["matched"]
    bf = m[m["reference"] == "budget_forcing"].set_index("run")
    # the curve: (18 tokens, 50%) -> (30.5, 75%); rule_3 at 28 tokens meets it at 70%
    assert bf.loc["rule_3", "position"] == "inside"
    assert bf.loc["rule_3", "reference_accuracy"] == pytest.approx(0.7)
    assert bf.loc["rule_3", "gain"] == pytest.approx(0.05)
    assert bf.loc["rule_3", "gain_lo"] <= 0.05 <= bf.loc["rule_3", "gain_hi"]
    # budget forcing reaches 75% only with 30.5 tokens: rule_3 saves 2.5
    assert bf.loc["rule_3", "saved"] == pytest.approx(2.5)
    # rule_1 (15.5 tokens) is below the curve's compute: outside, never matched
    assert bf.loc["rule_1", "position"] == "below the curve's range"
    assert math.isnan(bf.loc["rule_1", "gain"]) and math.isnan(bf.loc["rule_1", "p_gain"])
    # the control: the adaptive rules only, against the random-stop curve at equal thinking:
    # (5 tokens, 25%) -> (20, 50%); rule_1 thinks 7.5 tokens, a sixth of the way: 29.2%
    rs = m[m["reference"] == "random_stop"].set_index("run")
    assert set(rs["scaler"]) == {"answer_entropy"} and set(rs["axis"]) == {"thinking"}
    assert {"rs_a", "rs_b", "baseline"} & set(rs.index) == set()
    assert rs.loc["rule_1", "reference_accuracy"] == pytest.approx(0.25 + 0.25 / 6)
    assert rs.loc["rule_1", "gain"] == pytest.approx(0.25 - 0.25 / 6)
    # Bonferroni over every comparison of the model's table: p times the family's size, and
    # the interval at the matching level (wider than the raw one)
    tested = m[m["p_gain"].notna()]
    size = len(tested)
    assert (tested["family_size"] == size).all() and size >= 5
    assert tested["p_family"].tolist() == pytest.approx(
        [min(1.0, size * p) for p in tested["p_gain"]])
    assert (tested["gain_family_lo"] <= tested["gain_lo"]).all()
    assert (tested["gain_family_hi"] >= tested["gain_hi"]).all()
    f = tables["frontiers"]
    sc = f[(f["curve"] == "oracle_sc") & (f["axis"] == "thinking")]
    assert sc["x"].tolist() == [0, 10, 17.5, 22.5]
    assert sc["accuracy"].tolist() == [0, 0.5, 0.5, 0.5]
    # on the compute axis every cut costs 8 more tokens (prompt 5, answer 3): the same curves
    # shifted by 8
    for curve in ("fixed", "oracle_sc", "oracle_fc"):
        on = {a: f[(f["curve"] == curve) & (f["axis"] == a)] for a in ("thinking",
                                                                        "compute")}
        assert on["compute"]["x"].tolist() == pytest.approx(on["thinking"]["x"] + 8)
        assert on["compute"]["accuracy"].tolist() == on["thinking"]["accuracy"].tolist()
    # regret at equal total compute: rule_1 spends 7.5 + 8 tokens, the oracle's own choice
    assert ops.loc["rule_1", "regret_thinking"] == 0 and ops.loc["rule_1", "regret"] == 0


def test_the_timing_control_deals_a_rules_own_stops_at_random():
    # the rule stops q2 early at 10 (right there, wrong at its end) and lets the others end:
    # right on q0, q1, q2. Its control deals that one stop to a random question: q0 is right
    # either way, q1 is wrong at 10 (3/4 right), q2 right only when dealt it (1/4), q3 ends
    # at 10 anyway (wrong): 0.5 expected, the rule's timing gains 0.25
    runs = pd.DataFrame([{"model": "m", "task": "t", "run": "r", "scaler": "answer_entropy",
                          "sweep": None, "value": None}])
    questions = pd.DataFrame([
        {"model": "m", "task": "t", "run": "r", "doc_id": i, "correct": c, "thinking_tokens": k,
         "answer_tokens": 3, "processed_tokens": 8 + k, "flops": float("nan"), "stop_reason": s}
        for i, (c, k, s) in enumerate([(1, 30, "natural_end"), (1, 20, "natural_end"),
                                       (1, 10, "entropy_stop"), (0, 10, "natural_end")])])
    tables = analyse(runs, questions, grid_rows().assign(model="m", task="t"),
                     Settings(bootstrap=500, seed=0, control_draws=4000))
    control = tables["matched"].set_index("reference").loc["random_stop_matched"]
    assert control["early_stops"] == 1 and control["accuracy"] == 0.75
    assert control["reference_accuracy"] == pytest.approx(0.5, abs=0.02)
    assert control["gain"] == pytest.approx(0.25, abs=0.02)
    assert control["gain_lo"] <= control["gain"] <= control["gain_hi"]
    # the control's thinking: each question stops at 10 with chance 1/4, else at its end
    ends = np.array([30, 20, 30, 10])
    assert control["reference_x"] == pytest.approx(np.mean(np.minimum(ends, 10) / 4
                                                           + 3 * ends / 4), abs=0.3)
    # McNemar against one draw: the rule is right wherever that control run is
    assert control["mcnemar_control_only"] == 0 and control["mcnemar_rule_only"] >= 1


def test_analyse_refuses_runs_on_other_questions():
    runs, questions = _runs_and_questions()
    with pytest.raises(ValueError, match="not the oracle grid's"):
        analyse(runs, questions[questions["doc_id"] != 3],
                grid_rows().assign(model="m", task="t"), Settings(bootstrap=100))


def test_table_writers(tmp_path):
    runs, questions = (df.assign(model="m_1", task="t&t") for df in _runs_and_questions())
    tables = analyse(runs, questions, grid_rows().assign(model="m_1", task="t&t"),
                     Settings(bootstrap=200, seed=0))
    for name, (frame, title, view) in TABLES.items():
        files = write_table(tables[frame], view, tmp_path / name, title)
        _, md, tex, page = (f.read_text() for f in files)
        assert page.count("<tr>") == len(view(tables[frame])) + 1
        assert "t&amp;t (m_1)" in page
        back = pd.read_csv(files[0])
        assert len(back) == len(tables[frame])
        shown = view(tables[frame])
        assert md.count("\n## t&t (m_1)") == 1
        header = md.split("## t&t (m_1)\n\n")[1].splitlines()[0]
        assert header.count("|") == len(shown.columns) + 1
        assert md.count("\n|") == len(shown) + 2  # header, rule, one line per row
        assert r"\toprule" in tex and r"\bottomrule" in tex and "t\\&t (m\\_1)" in tex
        body = tex.split(r"\midrule")[1].split(r"\bottomrule")[0].strip().splitlines()
        assert len(body) == len(shown)
        assert all(line.count(" & ") == len(shown.columns) - 1 for line in body)
    assert with_interval(0.25, 0.125, 0.5, 100) == "25.0 [12.5, 50.0]"
    assert with_interval(float("nan"), 0, 0) == "–"


def test_markdown_and_latex_escape_what_they_must():
    df = pd.DataFrame({"a|b": ["x|y"], "c_d": ["50%"]})
    assert to_markdown(df).splitlines()[2] == r"| x\|y | 50% |"
    assert latex_escape("a_b & 50% {x} $") == r"a\_b \& 50\% \{x\} \$"
    tex = to_latex(df, "cap_tion", "tab:x")
    assert r"\caption{cap\_tion}" in tex and r"x|y & 50\% \\" in tex


def test_a_curve_is_interpolated_at_equal_compute_never_extrapolated():
    from eigscale.pipeline.analysis import interpolate, reach

    xs, ys = np.array([30.0, 10.0, 20.0]), np.array([0.5, 0.2, 0.6])  # unsorted, not monotone
    assert interpolate(xs, ys, 15.0) == pytest.approx(0.4)
    assert math.isnan(interpolate(xs, ys, 9.9)) and math.isnan(interpolate(xs, ys, 30.1))
    assert reach(xs, ys, 0.4) == pytest.approx(15.0)  # the first crossing, walking in compute
    assert reach(xs, ys, 0.1) == 10.0 and math.isnan(reach(xs, ys, 0.7))


def test_the_bootstrap_p_agrees_with_the_percentile_interval():
    from eigscale.pipeline.stats import bootstrap_p, interval

    rng = np.random.default_rng(0)
    for shift in (0.0, 0.05, 0.1, 0.2, 0.3):
        values = rng.normal(shift, 0.1, 4000)
        lo, hi = interval(values, 0.95)
        assert (bootstrap_p(values) < 0.05) == (lo > 0 or hi < 0), shift


def test_a_runs_seeds_are_pooled_into_one_operating_point():
    # two seeds of one rule: right on q0 and q1 / on q0 only; pooled, q1 is half right
    runs = pd.DataFrame([{"model": "m", "task": "t", "run": f"r_s{s}", "scaler": "answer_entropy",
                          "sweep": None, "value": None, "seed": s, "pooled": "r", "group": None}
                         for s in (1, 2)])
    questions = pd.DataFrame([
        {"model": "m", "task": "t", "run": f"r_s{s}", "doc_id": i, "correct": c,
         "thinking_tokens": 10, "answer_tokens": 3, "processed_tokens": 18,
         "flops": float("nan"), "stop_reason": "natural_end"}
        for s, cs in ((1, [1, 1, 0, 0]), (2, [1, 0, 0, 0])) for i, c in enumerate(cs)])
    tables = analyse(runs, questions, grid_rows().assign(model="m", task="t"),
                     Settings(bootstrap=400, seed=0))
    op = tables["operating_points"].set_index("run").loc["r"]
    assert op["seeds"] == 2 and op["accuracy"] == 0.375
    assert (op["accuracy_seed_min"], op["accuracy_seed_max"]) == (0.25, 0.5)
    assert op["accuracy_seed_sd"] == pytest.approx(np.std([0.5, 0.25], ddof=1))
    # resampling questions with their seeds: q1's 0.5 moves the interval in steps of 1/8
    assert op["accuracy_lo"] < 0.375 < op["accuracy_hi"]
    assert {round(8 * v, 9) % 1 for v in (op["accuracy_lo"], op["accuracy_hi"])} == {0}


def test_seeds_expand_a_run_and_a_sweep_once_per_seed():
    from eigscale.pipeline.run_config import runs

    config = {"models": {}, "runs": {"ent": {"scaler": "answer_entropy", "seeds": [3, 5]}},
              "sweeps": {"rs": {"scaler": "random_stop", "vary": "stop_probability",
                                "values": [0.1, 0.5], "replay": True, "seeds": [7, 8]}}}
    out = runs(config)
    assert sorted(out) == ["ent_s3", "ent_s5", "rs_s7_0.1", "rs_s7_0.5", "rs_s8_0.1",
                           "rs_s8_0.5"]
    assert out["ent_s5"]["params"]["seed"] == 5 and out["ent_s5"]["pooled"] == "ent"
    # each seed of a replayed sweep is its own sweep: its own trace, its own decisions
    assert out["rs_s8_0.5"]["sweep"] == "rs_s8" and out["rs_s8_0.5"]["group"] == "rs"
    assert out["rs_s8_0.5"]["pooled"] == "rs_0.5" and out["rs_s8_0.5"]["params"]["seed"] == 8


def test_k_sampled_traces_are_the_unit_and_questions_are_resampled_with_them(tmp_path):
    # the hand-made grid's four traces as two questions with two sampled traces each
    runs, questions = _runs_and_questions()
    as_sampled = {"sample": lambda d: d["doc_id"] % 2, "doc_id": lambda d: d["doc_id"] // 2}
    settings = Settings(bootstrap=500, seed=0)
    one = analyse(runs, questions, grid_rows().assign(model="m", task="t"), settings)
    k2 = analyse(runs, questions.assign(**as_sampled),
                 grid_rows().assign(model="m", task="t").assign(**as_sampled), settings)
    # every point estimate is a mean over the same traces: pass@1, as with one trace each
    a, b = one["operating_points"].set_index("run"), k2["operating_points"].set_index("run")
    assert (b["samples"] == 2).all() and (a["samples"] == 1).all()
    assert b["accuracy"].tolist() == a["accuracy"].tolist()
    # the intervals resample 2 questions (each with both traces), not 4 traces: other draws
    assert b["accuracy_lo"].tolist() != a["accuracy_lo"].tolist()
    # the oracle's points are per trace, named by question and sample
    points = k2["points"]
    assert sorted(zip(points["doc_id"], points["sample"], strict=True)) == [
        (0, 0), (0, 1), (1, 0), (1, 1)]
    assert points["first_correct"].tolist()[:3] == [10, 0, 10]
    # the tables say k
    write_table(k2["operating_points"], TABLES["operating_points"][2], tmp_path / "ops", "ops")
    assert "pass@1 over k = 2 sampled traces per question" in (tmp_path / "ops.md").read_text()
    # the paired test for this design is the bootstrap over questions: no McNemar on traces
    control = k2["matched"][k2["matched"]["position"] == "paired"]
    assert len(control) and control["p_mcnemar"].isna().all()
    assert control["p_gain"].notna().all()
    write_table(k2["matched"], TABLES["matched_compute"][2], tmp_path / "m", "matched")
    assert "| – |" in (tmp_path / "m.md").read_text()


def test_cluster_weights_draw_a_question_with_all_its_traces():
    from eigscale.pipeline.analysis import cluster_weights

    traces = np.array([0, 1, 2, 3, 4, 5])  # three questions, k = 2 (doc_id * 2 + sample)
    w = cluster_weights(traces, 2, 300, seed=1)
    assert w.shape == (300, 6) and (w.sum(axis=1) == 6).all()
    assert (w[:, 0::2] == w[:, 1::2]).all()  # a question's traces are drawn together
    assert (w[:, 0] == resample_weights(3, 300, 1)[:, 0]).all()
