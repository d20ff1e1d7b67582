"""Parameter validation: clamping with a warning, unknown names and wrong types as errors."""

import pytest

from eigscale.params import ParamClampWarning, ParamError
from eigscale.scalers import SCALERS, make_scaler
from eigscale.scalers.eig_reasoning import EIGParams
from eigscale.scalers.posterior import parse_continuations

SEED_TABLE = {  # the seed's parameters: default, range
    "lambda_cost": (0.05, 0.0, 10.0),
    "beam_size": (8, 1, 20),
    "mc_samples": (5, 1, 20),
    "sample_length": (64, 1, 512),
    "temperature": (1.0, 0.1, 2.0),
    "top_p": (0.9, 0.1, 1.0),
    "max_computation_time": (30.0, 1.0, 300.0),
}


@pytest.mark.parametrize("name", SEED_TABLE)
def test_seed_defaults(name):
    assert getattr(EIGParams(), name) == SEED_TABLE[name][0]


@pytest.mark.parametrize("name", SEED_TABLE)
def test_out_of_range_is_clamped_with_a_warning_naming_it(name):
    _, lo, hi = SEED_TABLE[name]
    for given, used in ((hi * 10 + 1, hi), (lo - 1, lo)):
        if isinstance(lo, int):
            given = int(given)
        with pytest.warns(ParamClampWarning) as w:
            p = EIGParams.from_kwargs({name: given}, source="runs.yaml")
        assert getattr(p, name) == used
        msg = str(w[0].message)
        assert name in msg and repr(given) in msg and repr(used) in msg and "runs.yaml" in msg


def test_in_range_values_pass_without_warning(recwarn):
    p = EIGParams.from_kwargs({"lambda_cost": 0.03, "beam_size": 12, "mc_samples": 8,
                               "sample_length": 128})
    assert (p.lambda_cost, p.beam_size, p.mc_samples, p.sample_length) == (0.03, 12, 8, 128)
    assert not [w for w in recwarn if issubclass(w.category, ParamClampWarning)]


def test_unknown_name_is_an_error_listing_valid_names():
    with pytest.raises(ParamError) as e:
        make_scaler("expected_information_gain_reasoning", {"lambda_cots": 0.1},
                    source="my.yaml")
    msg = str(e.value)
    assert "'lambda_cots'" in msg and "lambda_cost" in msg and "my.yaml" in msg


@pytest.mark.parametrize("name,value", [("beam_size", "eight"), ("beam_size", 2.5),
                                         ("lambda_cost", "0.1"), ("debug", 1),
                                         ("thinking_end", 3), ("max_tokens_thinking", "lots")])
def test_wrong_type_is_an_error_naming_key_and_value(name, value):
    with pytest.raises(ParamError) as e:
        EIGParams.from_kwargs({name: value}, source="gen_kwargs")
    assert f"'{name}'" in str(e.value) and repr(value) in str(e.value)


def test_int_is_accepted_for_a_float():
    assert EIGParams.from_kwargs({"lambda_cost": 1}).lambda_cost == 1.0


def test_auto_thinking_budget_word():
    assert EIGParams.from_kwargs({"max_tokens_thinking": "auto"}).max_tokens_thinking == "auto"


def test_unknown_scaler_lists_the_valid_ones():
    with pytest.raises(ParamError) as e:
        make_scaler("eig", {})
    for name in SCALERS:
        assert name in str(e.value)


def test_budget_forcing_rejects_eig_keys():
    with pytest.raises(ParamError, match="lambda_cost"):
        make_scaler("budget_forcing", {"lambda_cost": 0.1})


def test_thinking_format_expands_and_explicit_keys_win():
    s = make_scaler("budget_forcing", {"thinking_format": "r1", "answer_prompt": "Answer:"})
    assert s.params.thinking_start == "<think>\n" and s.params.thinking_end == "</think>"
    assert s.params.answer_prompt == "Answer:"
    with pytest.raises(ParamError, match="thinking_format"):
        make_scaler("budget_forcing", {"thinking_format": "o1"})


def test_continuation_prompts_parse_and_sort():
    assert parse_continuations("0:Wait|0.5:Hmm, really?") == ((0.5, "Hmm, really?"), (0.0, "Wait"))
    with pytest.raises(ParamError, match="continuation_prompts"):
        EIGParams(continuation_prompts="Wait")


def test_errors_carry_the_parameter_value_and_source_as_attributes():
    from eigscale.errors import EigscaleError

    with pytest.raises(ParamError) as e:
        EIGParams.from_kwargs({"beam_size": "eight"}, source="run 'x'")
    assert (e.value.param, e.value.value, e.value.source) == ("beam_size", "eight", "run 'x'")
    with pytest.raises(ParamError) as e:
        make_scaler("eig", {}, source="cfg.yaml")
    assert (e.value.param, e.value.value, e.value.source) == ("scale_func_name", "eig",
                                                              "cfg.yaml")
    assert isinstance(e.value, EigscaleError) and isinstance(e.value, ValueError)
