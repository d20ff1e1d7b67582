"""The suite's own machinery: what conftest.py promises about markers and workers."""

from __future__ import annotations

import pytest


def test_a_test_runs_on_the_worker_of_its_group(request):
    """Under `--dist loadgroup` every test carries its group (conftest's `_group`) in its node
    id, which is how xdist sends a group to one worker: if a pytest or xdist upgrade drops it,
    each worker would start its own vLLM and make its own shared runs."""
    if not getattr(request.config.option, "loadgroup", False):  # set by xdist on a worker
        pytest.skip("not run on xdist workers")
    assert request.node.nodeid.endswith("@tests.test_suite")
    assert request.node.get_closest_marker("fast") is not None


@pytest.mark.parametrize("fixtures, group", [
    ({"model_dir"}, "tests.test_x"),
    ({"model_dir", "vllm_engine"}, "vllm_engine"),
    ({"default_config", "default_workflow"}, "default_workflow"),
    ({"eig_eval"}, "eig_eval"),
])
def test_tests_that_share_an_expensive_fixture_share_a_group(fixtures, group):
    from types import SimpleNamespace

    from .conftest import _group

    item = SimpleNamespace(fixturenames=sorted(fixtures), callspec=None,
                           module=SimpleNamespace(__name__="tests.test_x"))
    assert _group(item) == group
    vllm_case = SimpleNamespace(fixturenames=["engine"], module=item.module,
                                callspec=SimpleNamespace(params={"engine": "vllm"}))
    assert _group(vllm_case) == "vllm_engine"
