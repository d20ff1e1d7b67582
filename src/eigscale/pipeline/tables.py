"""Paper tables from the analysis (eigscale.pipeline.analysis): CSV, Markdown and LaTeX.

Each table is written four ways: `<stem>.csv` (the numbers, every interval bound its own
column), and, formatted, `<stem>.md` (one section per model x task), `<stem>.tex` (one booktabs
table per model x task; needs \\usepackage{booktabs}) and `<stem>.html` (a standalone page, as
the Snakemake report shows it).
"""

from __future__ import annotations

import html
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from eigscale.pipeline.figures import LABELS

LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                 "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
                 "^": r"\textasciicircum{}"}


def latex_escape(text: str) -> str:
    return "".join(LATEX_SPECIAL.get(ch, ch) for ch in str(text))


def markdown_escape(text: str) -> str:
    return str(text).replace("|", r"\|").replace("\n", " ")


def _num(x: float, digits: int) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def with_interval(x: float, lo: float, hi: float, scale: float = 1.0, digits: int = 1) -> str:
    """"12.5 [8.3, 16.7]" (scaled; "–" for what is undefined)."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{_num(scale * x, digits)} [{_num(scale * lo, digits)}, {_num(scale * hi, digits)}]"


def to_markdown(df: pd.DataFrame) -> str:
    head = "| " + " | ".join(markdown_escape(c) for c in df.columns) + " |"
    rule = "|" + "|".join("---" for _ in df.columns) + "|"
    rows = ["| " + " | ".join(markdown_escape(v) for v in row) + " |"
            for row in df.astype(str).itertuples(index=False)]
    return "\n".join([head, rule, *rows]) + "\n"


def to_latex(df: pd.DataFrame, caption: str, label: str) -> str:
    """One booktabs table: text left, everything else right aligned."""
    align = "".join("l" if i < 2 else "r" for i in range(len(df.columns)))
    lines = [r"\begin{table}[t]", r"\centering", r"\small",
             rf"\caption{{{latex_escape(caption)}}}", rf"\label{{{label}}}",
             rf"\begin{{tabular}}{{{align}}}", r"\toprule",
             " & ".join(latex_escape(c) for c in df.columns) + r" \\", r"\midrule"]
    lines += [" & ".join(latex_escape(v) for v in row) + r" \\"
              for row in df.astype(str).itertuples(index=False)]
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def to_html(df: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    rows = "".join("<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in row) + "</tr>\n"
                   for row in df.astype(str).itertuples(index=False))
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{rows}</tbody>\n</table>\n"


HTML_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}</title><style>
body {{ font-family: sans-serif; margin: 1.5em; }}
table {{ border-collapse: collapse; margin-bottom: 1.5em; font-size: 0.9em; }}
th, td {{ border-top: 1px solid #999; border-bottom: 1px solid #999; padding: 0.25em 0.6em;
  text-align: right; }}
th:first-child, td:first-child, th:nth-child(2), td:nth-child(2) {{ text-align: left; }}
</style></head><body>
<h1>{title}</h1>
{body}</body></html>
"""


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_table(data: pd.DataFrame, view: Callable[[pd.DataFrame], pd.DataFrame],
                stem: str | Path, title: str) -> list[Path]:
    """stem.csv (data), stem.md, stem.tex and stem.html (view(part) of each model x task)."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    tmp = stem.with_name(stem.name + ".csv.tmp")
    data.to_csv(tmp, index=False)
    os.replace(tmp, stem.with_suffix(".csv"))
    md, tex, page = [f"# {title}\n"], [], []
    for (model, task), part in data.groupby(["model", "task"], sort=True) if len(data) else []:
        shown = view(part)
        md += [f"\n## {task} ({model})\n\n", to_markdown(shown)]
        tex.append(to_latex(shown, f"{title}: {task} ({model})",
                            f"tab:{stem.name}:{model}:{task}"))
        page.append(f"<h2>{html.escape(f'{task} ({model})')}</h2>\n{to_html(shown)}")
    if len(md) == 1:
        md.append("\nNo rows.\n")
    _write(stem.with_suffix(".md"), "".join(md))
    _write(stem.with_suffix(".tex"), "\n".join(tex) or "% no rows\n")
    _write(stem.with_suffix(".html"), HTML_PAGE.format(title=html.escape(title),
                                                       body="".join(page) or "<p>No rows.</p>"))
    return [stem.with_suffix(s) for s in (".csv", ".md", ".tex", ".html")]


def _setting(row: pd.Series) -> str:
    value = row.get("value")
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return str(row["run"])
    return f"{row['run']}" if not row.get("sweep") else f"{row['sweep']} = {value:g}" \
        if isinstance(value, float) else f"{row['sweep']} = {value}"


def _compute_scale(unit: str) -> tuple[float, str]:
    return (1e-9, "GFLOPs/q") if unit == "flops" else (1.0, "tokens/q")


def operating_view(part: pd.DataFrame) -> pd.DataFrame:
    """Each rule's operating points: accuracy, tokens, compute, regret, headroom captured."""
    scale, unit = _compute_scale(part["compute_unit"].iloc[0])
    return pd.DataFrame({
        "rule": [LABELS.get(s, s) for s in part["scaler"]],
        "setting": [_setting(r) for _, r in part.iterrows()],
        "accuracy % [95% CI]": [with_interval(r.accuracy, r.accuracy_lo, r.accuracy_hi, 100)
                                for r in part.itertuples()],
        "thinking tokens/q": [with_interval(r.thinking, r.thinking_lo, r.thinking_hi, 1, 0)
                              for r in part.itertuples()],
        # a forced answer may go on reasoning after its answer prompt: shown beside thinking
        "answer tokens/q": [with_interval(r.answer, r.answer_lo, r.answer_hi, 1, 0)
                            for r in part.itertuples()],
        f"total compute {unit}": [with_interval(r.compute, r.compute_lo, r.compute_hi, scale,
                                                1 if scale != 1 else 0)
                                  for r in part.itertuples()],
        "regret vs A*_SC pp": [with_interval(r.regret, r.regret_lo, r.regret_hi, 100)
                               for r in part.itertuples()],
        "regret vs A*_FC pp": [with_interval(r.regret_fc, r.regret_fc_lo, r.regret_fc_hi, 100)
                               for r in part.itertuples()],
        "headroom captured %": [with_interval(r.headroom, r.headroom_lo, r.headroom_hi, 100, 0)
                                for r in part.itertuples()],
        "headroom vs A*_FC %": [with_interval(r.headroom_fc, r.headroom_fc_lo, r.headroom_fc_hi,
                                              100, 0) for r in part.itertuples()],
    })


def matched_view(part: pd.DataFrame) -> pd.DataFrame:
    """Every run against each reference curve interpolated at its own value on the curve's
    axis (budget forcing: total compute; random stop: thinking tokens): accuracy gained there,
    what it saves at equal accuracy, a bootstrap p and Holm's over the model's comparisons; a
    run outside the curve's range is shown as outside."""
    scale, unit = _compute_scale(part["compute_unit"].iloc[0])

    def on(axis: str, v: float) -> str:
        return (_num(scale * v, 1 if scale != 1 else 0) + f" {unit}" if axis == "compute"
                else _num(v, 0) + " thinking tokens/q")

    def gain(r: Any) -> str:
        if r.position != "inside":
            return f"outside: {r.position} ({on(r.axis, r.reference_x_lo)} to " \
                   f"{on(r.axis, r.reference_x_hi)})"
        return with_interval(r.gain, r.gain_lo, r.gain_hi, 100)

    def saved(r: Any) -> str:
        if math.isnan(r.saved):
            return "never reached"
        k = scale if r.axis == "compute" else 1.0
        d = 1 if r.axis == "compute" and scale != 1 else 0
        return with_interval(r.saved, r.saved_lo, r.saved_hi, k, d)

    return pd.DataFrame({
        "against (axis)": [f"{LABELS.get(ref, ref)} ({c}; equal {a})" for ref, c, a in
                           zip(part["reference"], part["controls"], part["axis"],
                               strict=True)],
        "rule": [LABELS.get(s, s) + f" ({r})" for s, r in zip(part["scaler"], part["run"],
                                                             strict=True)],
        "at": [on(a, x) for a, x in zip(part["axis"], part["x"], strict=True)],
        "accuracy % (rule / curve there)": [f"{_num(100 * a, 1)} / {_num(100 * b, 1)}" for a, b
                                            in zip(part["accuracy"], part["reference_accuracy"],
                                                   strict=True)],
        "gain at equal axis pp [95% CI]": [gain(r) for r in part.itertuples()],
        "saved at equal accuracy [95% CI]": [saved(r) for r in part.itertuples()],
        "bootstrap p": [_num(p, 3) for p in part["p_gain"]],
        "Holm p (model)": [_num(p, 3) for p in part["p_holm"]],
    })


def oracle_view(part: pd.DataFrame) -> pd.DataFrame:
    """Per-question oracle points, summarised (points table of the analysis)."""
    n = len(part)
    fc, sc = part["first_correct"], part["stays_correct"]
    return pd.DataFrame({
        "questions": [str(n)],
        "trace end correct %": [_num(100 * part["end_correct"].mean(), 1)],
        "ever correct %": [_num(100 * fc.notna().mean(), 1)],
        "stays correct %": [_num(100 * sc.notna().mean(), 1)],
        "mean trace tokens": [_num(part["end"].mean(), 0)],
        "mean first-correct": [_num(fc.mean(), 0)],
        "mean stays-correct": [_num(sc.mean(), 0)],
        "overthinking tokens/q": [_num(part["overthinking"].mean(), 0)],
        "after stabilisation/q": [_num(part["after_stable"].mean(), 0)],
    })


# table -> (the analysis frame it shows, its title, its view)
TABLES = {"operating_points": ("operating_points", "Operating points against the oracle",
                               operating_view),
          "matched_compute": ("matched", "Every rule against budget forcing at equal total "
                              "compute and the random-stop control at equal thinking, "
                              "interpolated", matched_view),
          "oracle": ("points", "The oracle: first-correct and stays-correct points",
                     oracle_view)}
