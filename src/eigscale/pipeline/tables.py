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
from eigscale.pipeline.frontier import samples_in

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
        shown, name, k = view(part), f"{task} ({model})", samples_in(part)
        if k > 1:
            name += (f": pass@1 over k = {k} sampled traces per question; intervals resample "
                     "questions with all their traces")
        md += [f"\n## {name}\n\n", to_markdown(shown)]
        tex.append(to_latex(shown, f"{title}: {name}", f"tab:{stem.name}:{model}:{task}"))
        page.append(f"<h2>{html.escape(name)}</h2>\n{to_html(shown)}")
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
    """Each rule's operating points: accuracy, thinking and answer tokens, total compute,
    regret and headroom captured at equal total compute (the primary view) against A*_SC and
    the upper bound A*_FC, and regret at equal thinking tokens (the secondary view)."""
    scale, unit = _compute_scale(part["compute_unit"].iloc[0])

    def shown(name: str, k: float = 100, d: int = 1) -> list[str]:
        return [with_interval(getattr(r, name), getattr(r, f"{name}_lo"),
                              getattr(r, f"{name}_hi"), k, d) for r in part.itertuples()]

    view = pd.DataFrame({
        "rule": [LABELS.get(s, s) for s in part["scaler"]],
        "setting": [_setting(r) for _, r in part.iterrows()],
        "accuracy % [95% CI]": shown("accuracy"),
        "thinking tokens/q": shown("thinking", 1, 0),
        # a forced answer may go on reasoning after its answer prompt: shown beside thinking
        "answer tokens/q": shown("answer", 1, 0),
        f"total compute {unit}": shown("compute", scale, 1 if scale != 1 else 0),
        "regret vs A*_SC pp (equal compute)": shown("regret"),
        "regret vs A*_FC pp (upper bound, equal compute)": shown("regret_fc"),
        "headroom captured % (equal compute)": shown("headroom", 100, 0),
        "regret vs A*_SC pp (equal thinking)": shown("regret_thinking"),
    })
    if "seeds" in part and part["seeds"].max() > 1:  # pooled seeds: how many, their spread
        view.insert(3, "seeds: n, accuracy range % (sd)", [
            f"{int(r.seeds)}, {_num(100 * r.accuracy_seed_min, 1)} to "
            f"{_num(100 * r.accuracy_seed_max, 1)} ({_num(100 * r.accuracy_seed_sd, 1)})"
            if r.seeds > 1 else "1" for r in part.itertuples()])
    return view


# the matched table's references, as its rows name them
REFERENCE_LABELS = {"random_stop_matched": "random timing with the rule's own stop times"}


def matched_view(part: pd.DataFrame) -> pd.DataFrame:
    """Every run against each reference: budget forcing's curve at equal total compute and
    the random-stop curve at equal thinking tokens (interpolated at the run's own value; a run
    outside the curve's range is shown as outside), and the paired timing control; the gain
    with its 95% percentile interval and bootstrap p, the same at the family-wise level
    (Bonferroni over the model's comparisons), what the run saves at equal accuracy, and the
    control's McNemar test."""
    scale, unit = _compute_scale(part["compute_unit"].iloc[0])

    def on(axis: str, v: float) -> str:
        return (_num(scale * v, 1 if scale != 1 else 0) + f" {unit}" if axis == "compute"
                else _num(v, 0) + " thinking tokens/q")

    def gain(r: Any, lo: float, hi: float) -> str:
        if r.position not in ("inside", "paired"):  # paired: the timing control, no curve
            return f"outside: {r.position} ({on(r.axis, r.reference_x_lo)} to " \
                   f"{on(r.axis, r.reference_x_hi)})"
        return with_interval(r.gain, lo, hi, 100)

    def saved(r: Any) -> str:
        if r.reference in REFERENCE_LABELS:
            return "–"
        if math.isnan(r.saved):
            return "never reached"
        k = scale if r.axis == "compute" else 1.0
        d = 1 if r.axis == "compute" and scale != 1 else 0
        return with_interval(r.saved, r.saved_lo, r.saved_hi, k, d)

    def mcnemar(r: Any) -> str:
        if r.reference not in REFERENCE_LABELS or math.isnan(r.p_mcnemar):
            return "–"  # k sampled traces per question are no independent pairs
        return f"{int(r.mcnemar_rule_only)} / {int(r.mcnemar_control_only)}, " \
               f"p {_num(r.p_mcnemar, 3)}"

    rows = list(part.itertuples())
    size = int(part["family_size"].max()) if len(part) else 0
    return pd.DataFrame({
        "against (axis)": [
            f"{REFERENCE_LABELS[r.reference]} (paired, {int(r.early_stops)} early stops)"
            if r.reference in REFERENCE_LABELS else
            f"{LABELS.get(r.reference, r.reference)} ({r.controls}; equal {r.axis})"
            for r in rows],
        "rule": [LABELS.get(r.scaler, r.scaler) + f" ({r.run})" for r in rows],
        "at": [on(r.axis, r.x) for r in rows],
        "accuracy % (rule / reference there)": [
            f"{_num(100 * r.accuracy, 1)} / {_num(100 * r.reference_accuracy, 1)}"
            for r in rows],
        "gain pp [95% CI]": [gain(r, r.gain_lo, r.gain_hi) for r in rows],
        "bootstrap p": [_num(r.p_gain, 3) for r in rows],
        f"gain pp [family-wise CI, Bonferroni m={size}]": [
            gain(r, r.gain_family_lo, r.gain_family_hi) for r in rows],
        f"Bonferroni p (m={size})": [_num(r.p_family, 3) for r in rows],
        "saved at equal accuracy [95% CI]": [saved(r) for r in rows],
        "McNemar rule-only / control-only": [mcnemar(r) for r in rows],
    })


def oracle_view(part: pd.DataFrame) -> pd.DataFrame:
    """Per-question oracle points, summarised (points table of the analysis)."""
    k = samples_in(part)
    fc, sc = part["first_correct"], part["stays_correct"]
    return pd.DataFrame({
        # each row of the points is a trace: k per question where the model samples
        "questions": [str(len(part) // k) if k == 1 else f"{len(part) // k} x {k} traces"],
        "trace end correct %": [_num(100 * part["end_correct"].mean(), 1)],
        "ever correct %": [_num(100 * fc.notna().mean(), 1)],
        "stays correct %": [_num(100 * sc.notna().mean(), 1)],
        "mean trace tokens": [_num(part["end"].mean(), 0)],
        "mean first-correct": [_num(fc.mean(), 0)],
        "mean stays-correct": [_num(sc.mean(), 0)],
        "overthinking tokens/q": [_num(part["overthinking"].mean(), 0)],
        "after stabilisation/q": [_num(part["after_stable"].mean(), 0)],
        # where the oracle's answer bound (analysis.oracle_answer_tokens) stopped an answer,
        # its verdict may differ from a live run's: 0 is the claim the grid rests on
        "answers cut by the oracle's bound": [
            str(int(part["capped_cuts"].sum())) if "capped_cuts" in part else "–"],
    })


# table -> (the analysis frame it shows, its title, its view)
TABLES = {"operating_points": ("operating_points", "Operating points against the oracle",
                               operating_view),
          "matched_compute": ("matched", "Every rule against budget forcing at equal total "
                              "compute and random stops at equal thinking (interpolated), "
                              "and against random timing with its own stop times (paired)",
                              matched_view),
          "oracle": ("points", "The oracle: first-correct and stays-correct points",
                     oracle_view)}
