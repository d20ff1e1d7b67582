"""Lengths: a budget derived (never a prompt cut) when max_gen_toks meets max_model_len, and one
clear error when a question cannot fit."""

from __future__ import annotations

import pytest

from eigscale.lengths import LengthError, answer_room, plan_lengths
from eigscale.pipeline.run_config import ConfigError, validate

from .helpers import REPO

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


def test_paper_setting_derives_the_budget_from_the_longest_prompt():
    # max_gen_toks == max_model_len (config/paper.yaml, the seed's command line)
    plan = plan_lengths([90, 140, 120], 2048, 2048, ["d0", "d1", "d2"], tail=8, min_answer=256,
                        max_tokens_thinking="auto")
    assert plan.derived and plan.gen_budget == 2048 - 140
    assert plan.longest_prompt == 140 and plan.longest_prompt_id == "d1"
    assert plan.thinking_budget == 2048 - 140 - 8 - 256
    assert plan.prompts_cut == 0
    # the longest prompt's whole sequence fits exactly
    assert 140 + plan.thinking_budget + 8 + answer_room(plan, 256, 140, plan.thinking_budget + 8) \
        == 2048


def test_what_fits_is_not_derived():
    plan = plan_lengths([90, 140], 2048, 512, tail=8, min_answer=256, max_tokens_thinking=128)
    assert not plan.derived and plan.gen_budget == 512 and plan.thinking_budget == 128


def test_the_answer_gets_the_rest_of_the_budget_with_a_floor():
    plan = plan_lengths([100], 4096, 1024, tail=8, min_answer=256, max_tokens_thinking=600)
    assert answer_room(plan, 256, 100, 100 + 8) == 1024 - 108  # s1: the rest of the budget
    assert answer_room(plan, 256, 100, 600 + 8) == 1024 - 608
    assert answer_room(plan, 256, 100, 900 + 8) == 256  # the floor
    tight = plan_lengths([100], 400, 400, tail=8, min_answer=256, max_tokens_thinking=30)
    assert answer_room(tight, 256, 100, 30 + 8) == 400 - 100 - 38  # never past the context


def test_a_prompt_longer_than_the_context_is_an_error_naming_the_question():
    with pytest.raises(LengthError, match=r"math500 doc 7 is 2100 tokens.*max_model_len=2048"):
        plan_lengths([50, 2100], 2048, 2048, ["math500 doc 3", "math500 doc 7"])


def test_an_explicit_budget_that_cannot_fit_names_the_settings():
    with pytest.raises(LengthError) as err:
        plan_lengths([300, 500], 2048, 2048, ["q0", "q1"], tail=8, min_answer=256,
                     max_tokens_thinking=1500)
    msg = str(err.value)
    assert all(s in msg for s in ("max_tokens_thinking=1500", "max_model_len=2048", "500 tokens",
                                  "q1", "min_answer_tokens=256"))
    with pytest.raises(LengthError, match="auto leaves no thinking"):
        plan_lengths([1900], 2048, 2048, tail=8, min_answer=256, max_tokens_thinking="auto")


def _config(**generation):
    return {"models": {"m": {"source": "hf:x/y", "max_model_len": 2048}},
            "tasks": {"demo_arith": {"limit": 2}}, "generation": generation,
            "runs": {"bf": {"scaler": "budget_forcing", "params": {"max_tokens_thinking": 512}}}}


def test_the_workflow_checks_lengths_at_config_time():
    assert validate(_config(max_gen_toks=2048), SCHEMA)  # equal: derived, as in the paper
    with pytest.raises(ConfigError, match=r"f\.yaml.*generation.max_gen_toks.*4096.*"
                                          r"models.m.max_model_len=2048"):
        validate(_config(max_gen_toks=4096), SCHEMA, ["f.yaml"])
    big = _config(max_gen_toks=1024)
    big["runs"]["bf"]["params"]["max_tokens_thinking"] = 1990
    with pytest.raises(ConfigError, match="run 'bf': max_tokens_thinking=1990"):
        validate(big, SCHEMA, ["f.yaml"])


@pytest.mark.parametrize("name", ["config.yaml", "paper.yaml", "comparative.yaml"])
def test_every_shipped_config_is_valid_as_shipped(name):
    import yaml

    path = REPO / "config" / name
    assert validate(yaml.safe_load(path.read_text()), SCHEMA, [str(path)])
