"""`eigscale-run`: one scaler over a few prompts from a file; answers and a decision summary.

    eigscale-run examples/prompts.txt --scaler expected_information_gain_reasoning \\
        --set thinking_format=plain --set step_tokens=32 --set lambda_cost=0.05

The smoke test of a new installation: it prepares the default tiny model if needed, starts the
engine once, runs every prompt as one batch and prints what happened.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from eigscale.engines import ENGINES
from eigscale.errors import ParamError
from eigscale.jsonio import write_json_atomic
from eigscale.prepare import SMOLLM2, SourceError, prepare_model
from eigscale.scalers import SCALERS, make_scaler
from eigscale.scalers.eig_reasoning import EIGReasoning


def parse_value(text: str) -> Any:
    """'3' -> 3, '0.5' -> 0.5, 'true' -> True, anything else stays a string (like lm-eval)."""
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_settings(items: list[str]) -> dict[str, Any]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ParamError(f"--set {item!r}: expected key=value", value=item, source="--set")
        out[key.strip()] = parse_value(value.strip())
    return out


def read_prompts(path: Path) -> list[str]:
    """One question per line (.txt), or JSON lines with a "question" field (.jsonl)."""
    lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
    if path.suffix == ".jsonl":
        return [json.loads(ln)["question"] for ln in lines]
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="eigscale-run", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("prompts", type=Path, help=".txt (one question a line) or .jsonl")
    ap.add_argument("--scaler", default=EIGReasoning.name,
                    choices=list(SCALERS))
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a scaler parameter (repeatable), e.g. --set lambda_cost=0.1")
    ap.add_argument("--engine", default="hf", choices=list(ENGINES))
    ap.add_argument("--model", default=SMOLLM2,
                    help=f"model folder or source (default {SMOLLM2})")
    ap.add_argument("--models-dir", default="resources/models", type=Path,
                    help="where sources are prepared into")
    ap.add_argument("--max-gen-toks", type=int, default=512)
    ap.add_argument("--no-chat-template", action="store_true")
    ap.add_argument("--json", type=Path, help="also write texts, records and summary here")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    from eigscale.engines import make_engine

    try:
        scaler = make_scaler(args.scaler, parse_settings(args.set), source="--set")
        questions = read_prompts(args.prompts)
        model = args.model
        if not Path(model).is_dir():
            name = model.rsplit("/", 1)[-1].rsplit(":", 1)[-1]
            model = str(prepare_model(model, args.models_dir / name))
    except (ParamError, SourceError, OSError, KeyError, json.JSONDecodeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    engine = make_engine(args.engine, model)
    if args.no_chat_template:
        prompts = [engine.encode(q) for q in questions]
    else:
        prompts = [engine.encode(engine.tokenizer.apply_chat_template(
            [{"role": "user", "content": q}], add_generation_prompt=True, tokenize=False))
            for q in questions]
    out = scaler.run(engine, prompts, args.max_gen_toks)
    for q, text, rec in zip(questions, out.texts, out.records, strict=True):
        print(f"\n=== Q{rec.index}: {q}")
        print(text.strip())
        print(f"--- thinking tokens {rec.thinking_tokens}, answer tokens {rec.answer_tokens}, "
              f"stop: {rec.stop_reason}, extensions {rec.extensions}, "
              f"decisions {len(rec.decisions)}" + (f", FAILED: {rec.failure}" if rec.failure
                                                   else ""))
        for d in rec.decisions:
            eig = "-" if d.eig is None else f"{d.eig:+.4f}"
            print(f"    decision {d.index} [{d.kind}] at {d.thinking_tokens} tokens: "
                  f"EIG {eig} -> {d.decision}" + (f" ({d.failure})" if d.failure else ""))
    s = out.summary
    print("\n=== summary")
    for key in ("scaler", "questions", "decisions", "continue_rate", "success_rate", "failures",
                "stop_reasons", "eig", "tokens", "seconds", "engine"):
        print(f"{key:>14}: {json.dumps(s.get(key))}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(args.json, {"texts": out.texts, "summary": s,
                                      "records": [r.to_dict() for r in out.records]}, indent=1)
    engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
