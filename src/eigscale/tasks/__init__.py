"""lm-eval tasks shipped with eigscale (pass this folder to lm-eval's --include_path;
`eigscale-eval` does so by itself)."""

from pathlib import Path

TASKS_DIR = Path(__file__).resolve().parent
TASK_NAMES = ("demo_arith", "math500", "openai_math", "aime24", "gpqa_diamond", "gsm8k")
