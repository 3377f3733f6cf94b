"""Several runs' reports as one LaTeX document, as the EE782 project's ``report/cpc_report.tex``.

``write_latex_report(["outputs_audio", "outputs_image", ...], "report/cpc_report.tex")``
writes one ``.tex`` file: a results table over every run (final loss, probe
accuracy beside the random-init and input-level baselines, alignment,
uniformity), then a section per run with the tables and figures of its
HTML report (:func:`cpckit.evaluation.report.report_sections`: summary,
baselines, ``cpckit evaluate`` results, training curve, per-step accuracy,
t-SNE maps). The configuration and the list of every metric stay in the
HTML report: a paper shows results, not dumps.

Figures are not copied: each ``\\includegraphics`` names the PNG by its path
relative to the ``.tex`` file's folder (``../outputs_audio/training_curve.png``
from ``report/``), so compiling there (``pdflatex cpc_report.tex``) reads
the run folders as they are, and a rerun of training updates the figures.
The document needs only ``graphicx`` and ``geometry``, both in every TeX
distribution's base set.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cpckit.errors import CpckitError, UsageError
from cpckit.evaluation.report import (
    ReportSection,
    ReportTable,
    format_value,
    load_metrics,
    report_sections,
)

__all__ = ["LATEX_REPORT", "latex_text", "write_latex_report"]

LATEX_REPORT = Path("report") / "cpc_report.tex"
"""Where ``cpckit report --format latex`` writes by default: the EE782 project's file name."""

# Sections of the HTML report left out of the paper (see the module docstring).
_SKIPPED = ("Configuration", "All metrics")
# Tables whose widest cells add up to more characters than this are scaled to
# the text width (about what fits in a row at \small with the margins below).
_WIDE = 84

# <, >, | and \ are typeset in math: their text commands need the TS1 (textcomp)
# fonts, which a base TeX installation has only as fonts to be generated.
_ESCAPES = {
    "\\": r"$\backslash$",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"$<$",
    ">": r"$>$",
    "|": r"$|$",
}

# \cpcgraphic{options}{path} reads the path with LaTeX's special characters
# made plain, so a run folder called "run_2 50%" or "a&b#1" is still found;
# only a backslash or an unbalanced brace cannot be read this way.
# \cpccaptionof{table|figure}{text} numbers a caption outside a float: tables
# and figures stay under their run's headings instead of floating pages away.
_PREAMBLE = r"""\documentclass[11pt]{article}
\usepackage{graphicx}
\usepackage[margin=2.5cm]{geometry}
\makeatletter
\newcommand{\cpcgraphic}{\begingroup\catcode`\%=12 \catcode`\#=12 \catcode`\&=12
  \catcode`\$=12 \catcode`\^=12 \catcode`\_=12 \catcode`\~=12 \cpc@graphic}
\newcommand{\cpc@graphic}[2]{\includegraphics[#1]{#2}\endgroup}
\newcommand{\cpccaptionof}[1]{\def\@captype{#1}\caption}
\makeatother
"""


def latex_text(text: str) -> str:
    """``text`` typeset as written: LaTeX's special characters escaped."""
    return "".join(_ESCAPES.get(ch, ch) for ch in text)


def _figure_path(png: Path, tex_dir: Path) -> str:
    """The path of ``png`` from the ``.tex`` file's folder, with ``/`` (as LaTeX wants)."""
    rel = Path(os.path.relpath(png.resolve(), tex_dir.resolve())).as_posix()
    if "\\" in rel or rel.count("{") != rel.count("}"):
        raise CpckitError(
            f"figure {png}: its path from {tex_dir} ({rel}) has a backslash or an unbalanced "
            "brace, which LaTeX cannot read in a file name; rename that folder"
        )
    return rel


def _tabular(table: ReportTable, caption: str) -> list[str]:
    """A table as a `tabular`: text columns left, numbers right, scaled down when too wide."""
    cols = "".join(
        "r" if i < len(table.numeric) and table.numeric[i] else "l"
        for i in range(len(table.header))
    )
    body = [
        rf"\begin{{tabular}}{{{cols}}}",
        r"\hline",
        " & ".join(rf"\textbf{{{latex_text(h)}}}" for h in table.header) + r" \\",
        r"\hline",
        *(" & ".join(latex_text(c) for c in row) + r" \\" for row in table.rows),
        r"\hline",
        r"\end{tabular}",
    ]
    widths = [
        max(len(r[i]) if i < len(r) else 0 for r in [table.header, *table.rows])
        for i in range(len(table.header))
    ]
    if sum(widths) + 3 * len(widths) > _WIDE:
        body = [r"\resizebox{\linewidth}{!}{%", *body, "}"]
    return _block("table", caption, body)


def _block(kind: str, caption: str, body: list[str]) -> list[str]:
    """``body`` kept in the text flow with a numbered caption: above a table, below a figure."""
    cap = [rf"\cpccaptionof{{{kind}}}{{{caption}}}"] if caption else []
    return [
        r"\par\medskip\noindent",
        r"\begin{minipage}{\linewidth}",
        r"\centering",
        r"\small",
        *(cap if kind == "table" else []),
        *body,
        *(cap if kind == "figure" else []),
        r"\end{minipage}",
        r"\par\medskip",
        "",
    ]


def _baseline_test_accuracy(rows: Any, name: str | None, features: str) -> str:
    """Test accuracy of the baseline row called ``name`` (any, when None) with ``features``.

    Multimodal runs tag the names of their top-level rows with the
    modality (``"random init [audio]"``); the tag is not part of the name.
    """
    for row in rows if isinstance(rows, list) else []:
        if not isinstance(row, dict) or not str(row.get("features", "")).startswith(features):
            continue
        base = str(row.get("name", "")).split(" [")[0]
        if name is None or base == name:
            accuracy = format_value(row.get("test_accuracy"), 4)
            return accuracy if name is not None else f"{accuracy} ({base})"
    return "n/a"


def _modality(root: Path) -> str:
    """The run's ``data.modality`` from its ``config.yaml``, or ``-`` when it cannot be read."""
    import yaml

    try:
        config = yaml.safe_load((root / "config.yaml").read_text(encoding="utf-8"))
        return str(config["data"]["modality"])
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        return "-"


def _results_table(runs: list[tuple[str, Path, dict[str, Any]]]) -> ReportTable:
    """One row per run and modality: loss, CPC probe beside its baselines, geometry."""
    header = [
        "run",
        "data",
        "final loss",
        "CPC probe",
        "random init",
        "input features",
        "alignment",
        "uniformity",
    ]
    rows: list[list[str]] = []
    for name, root, metrics in runs:
        parts = [("", metrics)] if "probe" in metrics else []
        parts += [
            (str(key), value)
            for key, value in metrics.items()
            if isinstance(value, dict) and "probe" in value
        ]
        for part, values in parts or [("", metrics)]:
            found = values.get("probe")
            probe: dict[str, Any] = found if isinstance(found, dict) else {}
            baselines = values.get("baselines")
            rows.append(
                [
                    name,
                    part or _modality(root),
                    format_value(metrics.get("final_loss"), 4),
                    format_value(probe.get("test_accuracy"), 4),
                    _baseline_test_accuracy(baselines, "random init", "context"),
                    _baseline_test_accuracy(baselines, None, "input"),
                    format_value(values.get("alignment"), 4),
                    format_value(values.get("uniformity"), 4),
                ]
            )
    return ReportTable(header, rows, [False, False, *[True] * 6])


def _run_section(name: str, sections: list[ReportSection], tex_dir: Path) -> list[str]:
    lines = [rf"\section{{Run \texttt{{{latex_text(name)}}}}}", ""]
    for sec in sections:
        if sec.title in _SKIPPED:
            continue
        lines += [rf"\subsection{{{latex_text(sec.title)}}}", ""]
        lines += [latex_text(note) + "\n" for note in sec.notes]
        for caption, table in sec.tables:
            label = f"{name}: {caption or sec.title}"
            lines += _tabular(table, latex_text(label))
        for fig in sec.figures:
            width = r"\linewidth" if fig.path.name == "training_curve.png" else r"0.6\linewidth"
            graphic = rf"\cpcgraphic{{width={width}}}{{{_figure_path(fig.path, tex_dir)}}}"
            lines += _block("figure", latex_text(f"{name}: {fig.caption}"), [graphic])
    return [*lines, r"\clearpage", ""]


def _run_names(roots: list[Path]) -> list[str]:
    """How the report calls each run: its path from the current folder when it is inside
    it (``outputs_audio``), else its folder's name; the full paths when names would repeat."""
    here = Path.cwd().resolve()
    names = []
    for root in roots:
        full = root.resolve()
        names.append(full.relative_to(here).as_posix() if full.is_relative_to(here) else full.name)
    if len(set(names)) < len(names):
        return [root.resolve().as_posix() for root in roots]
    return names


def write_latex_report(
    run_dirs: Sequence[str | os.PathLike[str]], out: str | os.PathLike[str] = LATEX_REPORT
) -> Path:
    """Write one LaTeX document reporting every run folder of ``run_dirs`` to ``out``.

    Runs are named by their path from the current folder (``outputs_audio``)
    or, outside it, by their folder's name, in the order given; a folder
    given twice is reported once. ``out``'s folder is created. Compile with
    ``pdflatex`` from that folder.

    Returns:
        The path of the ``.tex`` file.

    Raises:
        CpckitError: no run folder, a folder that is missing or has no
            ``metrics.json``, ``out`` not a ``.tex`` file, or a figure path
            LaTeX cannot read.
    """
    out_path = Path(out)
    if out_path.suffix != ".tex":
        raise UsageError(f"the LaTeX report {out_path} must be a .tex file, e.g. {LATEX_REPORT}")
    unique: dict[Path, Path] = {}
    for run_dir in run_dirs:
        unique.setdefault(Path(run_dir).resolve(), Path(run_dir))
    roots = list(unique.values())
    if not roots:
        raise UsageError("no run folder to report: give one or more, e.g. outputs_audio")
    for root in roots:
        if not root.is_dir():
            raise CpckitError(f"run folder not found: {root}")
    tex_dir = out_path.parent
    names = _run_names(roots)
    runs = [(name, root, load_metrics(root)) for name, root in zip(names, roots)]
    lines = [
        "% written by `cpckit report --format latex` (cpckit.evaluation.report_latex)",
        _PREAMBLE,
        rf"\title{{Contrastive Predictive Coding: {latex_text(', '.join(names))}}}",
        r"\author{}",
        r"\date{}",
        r"\begin{document}",
        r"\maketitle",
        "",
        r"\section{Results}",
        "",
        "Linear probes on the frozen, pooled context vectors of held-out examples "
        "(CPC), beside the same probe on the same split for the model with random "
        "weights and for input-level features; alignment and uniformity of the "
        "context vectors (lower is better for both).",
        "",
        *_tabular(
            _results_table(runs),
            "Results of each run: test accuracy of the linear probe on CPC's context "
            "vectors, on the random-init model's and on input-level features",
        ),
    ]
    for name, root in zip(names, roots):
        _, sections = report_sections(root)
        lines += _run_section(name, sections, tex_dir)
    lines.append(r"\end{document}")
    tex_dir.mkdir(parents=True, exist_ok=True)
    out_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out_path
