"""lm-eval tasks shipped with eigscale (pass this folder to lm-eval's --include_path;
`eigscale-eval` does so by itself)."""

from pathlib import Path

TASKS_DIR = Path(__file__).resolve().parent
# each task's answer equivalence (eigscale.grading.answer_class): what its grader calls equal,
# and so what EIG's entropy is over
ANSWER_KIND = {"demo_arith": "integer", "gsm8k": "integer", "math500": "math",
               "openai_math": "math", "aime24": "math", "gpqa_diamond": "choice"}

