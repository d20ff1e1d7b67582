"""gen_kwargs: lm-eval's keys keep lm-eval's meaning, scaler keys are checked in one place."""

from __future__ import annotations

import pytest

from eigscale.errors import ParamError
from eigscale.lmeval.gen_kwargs import scaler_from_gen_kwargs

BF = {"scale_func_name": "budget_forcing", "thinking_format": "plain"}


def test_do_sample_false_is_greedy_whatever_the_temperature():
    # lm-eval's normalize_gen_kwargs: do_sample=False with temperature>0 decodes greedily
    job = scaler_from_gen_kwargs({**BF, "do_sample": False, "temperature": 0.7}, 256)
    assert job.decoding.temperature == 0.0
    job = scaler_from_gen_kwargs({**BF, "do_sample": True, "temperature": 0.7,
                                  "top_p": 0.9}, 256)
    assert (job.decoding.temperature, job.decoding.top_p) == (0.7, 0.9)
    # temperature alone means sampling, as in lm-eval
    assert scaler_from_gen_kwargs({**BF, "temperature": 0.5}, 256).decoding.temperature == 0.5


def test_max_token_aliases_and_until():
    assert scaler_from_gen_kwargs({**BF, "max_new_tokens": 77}, 256).max_gen_toks == 77
    assert scaler_from_gen_kwargs({**BF, "max_tokens": 55}, 256).max_gen_toks == 55
    assert scaler_from_gen_kwargs(BF, 256).max_gen_toks == 256
    assert scaler_from_gen_kwargs({**BF, "until": "###"}, 256).until == ["###"]


def test_eig_keeps_its_own_temperature_and_reasons_greedily():
    job = scaler_from_gen_kwargs({"scale_func_name": "expected_information_gain_reasoning",
                                  "temperature": 0.7, "top_p": 0.95}, 256)
    assert job.decoding.temperature == 0.0
    assert (job.scaler.params.temperature, job.scaler.params.top_p) == (0.7, 0.95)


def test_scaler_keys_are_checked_once_by_the_parameter_class():
    with pytest.raises(ParamError, match=r"unknown parameter\(s\) 'lambda_cots'.*lambda_cost"):
        scaler_from_gen_kwargs({"scale_func_name": "expected_information_gain_reasoning",
                                "lambda_cots": 0.1}, 256, source="--gen_kwargs")
    with pytest.raises(ParamError, match="unknown scale_func_name 'eig'"):
        scaler_from_gen_kwargs({"scale_func_name": "eig"}, 256)
