"""What several test modules share (fixtures live in conftest.py): the repository's paths,
the questions and prompts, the small scaler settings, the workflow runner, and `ScriptedEngine`."""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from eigscale.engines.base import Completion, Engine, GenerateResult, ScoreResult

REPO = Path(__file__).resolve().parents[1]
MODEL_DIR = Path(os.environ.get("EIGSCALE_TEST_MODEL", REPO / "resources" / "models" / "smollm2"))
BIN = Path(sys.executable).parent  # the environment's command lines (eigscale-eval, ...)
SNAKEMAKE = str(BIN / "snakemake")
TEST_CONFIG = REPO / ".test" / "config.yaml"

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

# a small answer room keeps these tests quick; test_forcing covers the room itself
PLAIN = {"thinking_format": "plain", "min_answer_tokens": 48}
SMALL_EIG = {**PLAIN, "beam_size": 4, "mc_samples": 3, "sample_length": 16, "step_tokens": 24,
             "max_tokens_thinking": 72, "lambda_cost": 0.02}
GEN = 160  # max_gen_toks: the answers get what thinking leaves of it, at least 48 tokens


def chat_prompts(engine, questions=QUESTIONS) -> list[list[int]]:
    return [engine.encode(engine.tokenizer.apply_chat_template(
        [{"role": "user", "content": q}], add_generation_prompt=True, tokenize=False))
        for q in questions]


# the plain thinking format's delimiters, as the forced answers use them: a natural end gets
# thinking_end alone, any other stop thinking_end + "\n" + answer_prompt
END = "\n\nTherefore,"
TAIL = END + "\nthe final answer is"


# the EIG evaluation that test_lm_eval reads and test_resume kills and resumes (conftest's
# `eig_eval`): HFLM, 4 questions answered 2 at a time, debug logging on
EIG_EVAL_GEN = ("max_gen_toks=160,thinking_format=plain,min_answer_tokens=48,"
                "scale_func_name=expected_information_gain_reasoning,max_tokens_thinking=64,"
                "step_tokens=32,beam_size=3,mc_samples=2,sample_length=8,debug=true")
EIG_EVAL_LIMIT = 4


def eig_eval_command(model_dir: Path, work: Path) -> list[str]:
    """`eigscale-eval` of the shared EIG evaluation, its records and outputs under `work`."""
    return [str(BIN / "eigscale-eval"), "--model", "hf", "--model_args",
            f"pretrained={model_dir},dtype=float32,eigscale_records={work / 'records'},"
            "eigscale_chunk=2", "--tasks", "demo_arith", "--limit", str(EIG_EVAL_LIMIT),
            "--apply_chat_template", "--output_path", str(work / "out"), "--log_samples",
            "--gen_kwargs", EIG_EVAL_GEN]


OFFLINE = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}


def split_forced(text: str, stop_reason: str) -> tuple[str, str, str]:
    """(thinking, the delimiter the forced answer was given, answer) of a plain-format
    response; the delimiter is "" if it is missing."""
    return text.partition(END if stop_reason == "natural_end" else TAIL)


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


def apt_install(packages: Sequence[str], binaries: Sequence[str]) -> None:
    """apt-get install Debian `packages` unless all of `binaries` are on the PATH already;
    PermissionError where that cannot be done (not root, no apt-get)."""
    if all(shutil.which(b) for b in binaries):
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise PermissionError(f"{', '.join(packages)} not installed, and this is not a root "
                              "Debian machine")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = ["apt-get", "install", "-y", "--no-install-recommends", *packages]
    # the test workers may install at the same time: one apt at a time
    with open("/tmp/eigscale-tests-apt.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if all(shutil.which(b) for b in binaries):
            return
        if subprocess.run(cmd, env=env, capture_output=True).returncode != 0:
            subprocess.run(["apt-get", "update"], env=env, capture_output=True, check=True)
            subprocess.run(cmd, env=env, capture_output=True, check=True)


def chromium() -> str:
    """Debian's chromium for the browser tests, installed when missing; the test is skipped
    where it cannot be (not root, no apt), unless EIGSCALE_REQUIRE_BROWSER is set (CI)."""
    import pytest

    try:
        apt_install(["chromium"], ["chromium"])
    except (PermissionError, subprocess.CalledProcessError) as e:
        if os.environ.get("EIGSCALE_REQUIRE_BROWSER"):
            raise
        pytest.skip(f"no chromium here: {e}")
    return str(shutil.which("chromium"))


def snakemake(workdir: Path, *args: str, timeout: int = 1800) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    return subprocess.run([SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory",
                           str(workdir), *args], capture_output=True, text=True, env=env,
                          timeout=timeout)


def planned_jobs(proc: subprocess.CompletedProcess) -> tuple[dict[str, int], list[str]]:
    out = proc.stdout + proc.stderr
    stats = dict(re.findall(r"^(\w+)\s+(\d+)$", out, flags=re.M))
    runs = re.findall(r"evaluate \w+/\w+/([\w.]+) on \d+ GPU", out)  # the rule message
    return {k: int(v) for k, v in stats.items() if k != "total"}, runs


class ScriptedEngine(Engine):
    """A stand-in engine: reasoning requests get `step` tokens of filler, answer requests (their
    prompt ends with the answer prompt) get `answers(context)` cycled over n, forecasts get
    filler; scores come from `logprob(form)`. Named as what it is: not a model."""

    def __init__(self, tokenizer, answers, logprob=lambda form: -1.0) -> None:
        super().__init__()
        self.tokenizer, self.eos_token_ids = tokenizer, frozenset({tokenizer.eos_token_id})
        self.max_model_len, self.answers, self.logprob = 4096, answers, logprob
        self.tail = None

    def generate(self, requests):
        out = []
        for r in requests:
            text = self.decode(r.prompt[-8:])
            if text.endswith("the final answer is"):
                spellings = self.answers(len(r.prompt))
                comps = [Completion(tuple(self.encode(a)), a, "stop", len(self.encode(a)) + 1,
                                    (self.tokenizer.eos_token_id,))
                         for a in (spellings[j % len(spellings)] for j in range(r.n))]
            else:
                ids = tuple(self.encode(" step") * r.max_tokens)[: r.max_tokens]
                comps = [Completion(ids, self.decode(ids), "length", len(ids))] * r.n
            out.append(GenerateResult(tuple(comps), len(r.prompt), 0))
        return out

    def score(self, requests):
        return [ScoreResult(self.logprob(self.decode(r.suffix)), len(r.prefix), 0)
                for r in requests]


class SpyEngine(Engine):
    """A real engine that keeps the requests it was given (a recorder, not a stand-in)."""

    def __init__(self, inner: Engine) -> None:
        self.inner, self.counters = inner, inner.counters
        self.tokenizer, self.eos_token_ids = inner.tokenizer, inner.eos_token_ids
        self.max_model_len = inner.max_model_len
        self.generated: list[list] = []

    def generate(self, requests):
        self.generated.append(list(requests))
        return self.inner.generate(requests)

    def score(self, requests):
        return self.inner.score(requests)


def verdict(graded: dict) -> dict:
    """A task grader's verdict on a question: its pass@1 and unparsed count alone."""
    return {k: graded[k] for k in ("exact_match", "unparsed")}
