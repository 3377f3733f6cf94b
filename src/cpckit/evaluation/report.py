"""A run's report: one self-contained HTML page and a Markdown twin.

``write_report(run_dir)`` reads what a run folder holds (``metrics.json``
required; ``config.yaml``, ``losses.csv``, ``val_losses.csv`` and PNG figures
optional) and writes ``report.html`` (figures embedded as base64 data URIs,
inline CSS, no external resource: it can be mailed or archived alone) and
``report.md`` (figures linked by relative path, for viewing in a repository).
:func:`report_sections` is the content both render, and
:mod:`cpckit.evaluation.report_latex` renders it as a LaTeX document of several runs.
"""

from __future__ import annotations

import base64
import html
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np

from cpckit.errors import CpckitError
from cpckit.evaluation.plots import epoch_means, final_epoch_step_accuracy, read_losses

__all__ = [
    "REPORT_HTML",
    "REPORT_MD",
    "ReportFigure",
    "ReportSection",
    "ReportTable",
    "flatten_metrics",
    "format_value",
    "load_metrics",
    "report_sections",
    "write_report",
]

REPORT_HTML = "report.html"
REPORT_MD = "report.md"

BASELINE_COLUMNS = ("name", "features", "protocol", "train_accuracy", "test_accuracy")
_SUMMARY_LEAVES = ("final_loss", "alignment", "uniformity", "wall_time_seconds")
_PROBE_LEAVES = ("train_accuracy", "test_accuracy")

_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1100px; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { border-bottom: 2px solid #444; padding-bottom: .2em; }
h2 { margin-top: 1.8em; border-bottom: 1px solid #ccc; padding-bottom: .15em; }
table { border-collapse: collapse; margin: .6em 0; font-size: .95em; }
th, td { border: 1px solid #ccc; padding: .3em .7em; text-align: left; }
th { background: #f2f2f2; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
pre { background: #f6f8fa; padding: .8em; overflow-x: auto; border: 1px solid #ddd; }
figure { margin: 1em 0; }
figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: .9em; color: #555; }
.note { color: #8a5a00; }
"""


def flatten_metrics(metrics: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts and lists as ``{"dotted.key": leaf}`` (list items by index).

    Example: ``{"probe": {"test_accuracy": 0.9}}`` -> ``{"probe.test_accuracy": 0.9}``.
    """
    out: dict[str, Any] = {}
    if isinstance(metrics, dict):
        if not metrics and prefix:
            out[prefix] = {}
        for key, value in metrics.items():
            out.update(flatten_metrics(value, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(metrics, list):
        if not metrics and prefix:
            out[prefix] = []
        for i, value in enumerate(metrics):
            out.update(flatten_metrics(value, f"{prefix}.{i}" if prefix else str(i)))
    else:
        out[prefix] = metrics
    return out


def format_value(value: Any, decimals: int | None = None) -> str:
    """A leaf as text: floats to ``decimals`` places (or 6 significant digits), None as n/a."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if not math.isfinite(v):
            return str(v)
        if decimals is not None:
            return f"{v:.{decimals}f}"
        return format(v, ".6g")
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


@dataclass
class ReportTable:
    """A table: header, rows of cell text, and which columns are numeric."""

    header: list[str]
    rows: list[list[str]]
    numeric: list[bool] = field(default_factory=list)


@dataclass
class ReportFigure:
    """A PNG of the run folder and its caption (the file name)."""

    path: Path
    caption: str


@dataclass
class ReportSection:
    """One report section: optional paragraph notes, tables, code and figures."""

    title: str
    notes: list[str] = field(default_factory=list)
    tables: list[tuple[str, ReportTable]] = field(default_factory=list)
    code: str | None = None
    code_lang: str = ""
    figures: list[ReportFigure] = field(default_factory=list)


def load_metrics(root: Path) -> dict[str, Any]:
    """``root/metrics.json`` as a dict; a missing or malformed file is one clear error."""
    path = root / "metrics.json"
    if not path.is_file():
        raise CpckitError(f"metrics.json not found in run folder {root} (expected {path})")
    try:
        metrics = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise CpckitError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(metrics, dict):
        raise CpckitError(f"{path} must hold a JSON object, got {type(metrics).__name__}")
    return metrics


def _summary(flat: dict[str, Any], losses: dict[str, np.ndarray] | None) -> ReportTable:
    rows: list[list[str]] = []
    if losses is not None and len(losses["loss"]):
        _, _, means = epoch_means(losses, "loss")
        rows.append(["losses.csv: final-epoch mean loss", format_value(float(means[-1]), 4)])
        rows.append(["losses.csv: optimizer steps logged", str(len(losses["loss"]))])
    for key, value in flat.items():
        parts = key.split(".")
        if parts[0] == "baselines":
            continue
        leaf = parts[-1]
        in_probe = any("probe" in p for p in parts[:-1])
        if leaf in _SUMMARY_LEAVES or (in_probe and leaf in _PROBE_LEAVES):
            rows.append([key, format_value(value)])
    return ReportTable(["quantity", "value"], rows, [False, True])


def _baseline_tables(metrics: dict[str, Any]) -> list[tuple[str, ReportTable]]:
    """The baseline table(s): top-level ``baselines``, else each nested one."""
    found: list[tuple[str, list[Any]]] = []
    if isinstance(metrics.get("baselines"), list):
        found.append(("", metrics["baselines"]))
    else:
        for key, value in metrics.items():
            if isinstance(value, dict) and isinstance(value.get("baselines"), list):
                found.append((str(key), value["baselines"]))
    tables = []
    for caption, rows in found:
        body = []
        for row in rows:
            if not isinstance(row, dict):
                continue
            cells = []
            for col in BASELINE_COLUMNS:
                v = row.get(col)
                cells.append(
                    format_value(v, 4) if _is_number(v) else ("" if v is None else format_value(v))
                )
            body.append(cells)
        tables.append(
            (caption, ReportTable(list(BASELINE_COLUMNS), body, [False, False, False, True, True]))
        )
    return tables


EVALUATION_COLUMNS = (
    ("name", "name"),
    ("features", "features"),
    ("level", "level"),
    ("protocol", "protocol"),
    ("classifier", "classifier"),
    ("train_accuracy", "train accuracy"),
    ("test_accuracy", "test accuracy"),
    ("std", "std"),
    ("n_train", "n train"),
    ("n_test", "n test"),
    ("chance_accuracy", "chance"),
)


def _evaluation_section(root: Path) -> tuple[ReportSection | None, dict[str, Any]]:
    """``evaluation.json`` of ``cpckit evaluate``: its rows (CPC beside each baseline) and geometry."""
    path = root / "evaluation.json"
    if not path.is_file():
        return None, {}
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        return ReportSection("Evaluation", notes=[f"{path.name} could not be read: {exc}"]), {}
    if not isinstance(data, dict):
        return ReportSection("Evaluation", notes=[f"{path.name} does not hold a JSON object"]), {}
    sec = ReportSection("Evaluation")
    src: dict[str, Any] = data["data"] if isinstance(data.get("data"), dict) else {}
    proto: dict[str, Any] = data["protocol"] if isinstance(data.get("protocol"), dict) else {}
    sec.notes.append(
        f"cpckit evaluate of {data.get('checkpoint', '?')} on "
        f"{src.get('embeddings') or src.get('root') or '?'} ({src.get('rows', '?')} rows); "
        f"labels: {data.get('label_key') or 'frame-level only'}; protocol: "
        f"{proto.get('description', proto.get('name', '?'))}; classifier: {data.get('classifier', '?')}."
    )
    body = []
    for row in data.get("rows") or []:
        if isinstance(row, dict):
            cells = []
            for key, _ in EVALUATION_COLUMNS:
                v = row.get(key)
                four = _is_number(v) and (key == "std" or key.endswith("accuracy"))
                cells.append("" if v is None else format_value(v, 4) if four else format_value(v))
            body.append(cells)
    if body:
        numeric = [i >= 5 for i in range(len(EVALUATION_COLUMNS))]
        sec.tables.append(
            ("Probe accuracy", ReportTable([t for _, t in EVALUATION_COLUMNS], body, numeric))
        )
    geo = [g for g in data.get("geometry") or [] if isinstance(g, dict)]
    if geo:
        sec.tables.append(
            (
                "Alignment and uniformity",
                ReportTable(
                    ["name", "features", "alignment", "uniformity", "n"],
                    [
                        [
                            format_value(g.get("name")),
                            format_value(g.get("features")),
                            format_value(g.get("alignment"), 4),
                            format_value(g.get("uniformity"), 4),
                            format_value(g.get("n")),
                        ]
                        for g in geo
                    ],
                    [False, False, True, True, True],
                ),
            )
        )
    return sec, flatten_metrics(data)


def _pngs(root: Path) -> tuple[list[Path], list[Path], list[Path]]:
    """(training curves, t-SNE maps, other figures) among the folder's PNGs."""
    all_png = sorted(p for p in root.glob("*.png") if p.is_file())
    curves = [p for p in all_png if p.name == "training_curve.png"]
    tsne = [p for p in all_png if p.name.startswith("tsne_")]
    other = [p for p in all_png if p not in curves and p not in tsne]
    return curves, tsne, other


def _read_optional_losses(path: Path, notes: list[str]) -> dict[str, np.ndarray] | None:
    if not path.is_file():
        return None
    try:
        return read_losses(path)
    except CpckitError as exc:
        notes.append(f"{path.name} could not be read: {exc}")
        return None


def report_sections(root: Path) -> tuple[str, list[ReportSection]]:
    """A run folder's title and sections, the content that every report format renders."""
    metrics = load_metrics(root)
    flat = flatten_metrics(metrics)
    notes: list[str] = []
    losses = _read_optional_losses(root / "losses.csv", notes)
    val = _read_optional_losses(root / "val_losses.csv", notes)
    curves, tsne, other = _pngs(root)
    sections: list[ReportSection] = []

    summary = ReportSection("Run summary", notes=notes)
    summary.tables.append(("", _summary(flat, losses)))
    if val is not None and len(val["loss"]):
        summary.tables[0][1].rows.append(
            ["val_losses.csv: final validation loss", format_value(float(val["loss"][-1]), 4)]
        )
        if "accuracy" in val:
            summary.tables[0][1].rows.append(
                [
                    "val_losses.csv: final validation accuracy",
                    format_value(float(val["accuracy"][-1]), 4),
                ]
            )
    sections.append(summary)

    baselines = _baseline_tables(metrics)
    if baselines:
        sections.append(
            ReportSection(
                "Baselines",
                tables=baselines,
                notes=["Probe accuracy of each representation (and input-level baselines)."],
            )
        )

    evaluation, eval_flat = _evaluation_section(root)
    if evaluation is not None:
        sections.append(evaluation)

    config = root / "config.yaml"
    if config.is_file():
        sections.append(ReportSection("Configuration", code=config.read_text(), code_lang="yaml"))

    training = ReportSection("Training curves")
    training.figures = [ReportFigure(p, p.name) for p in curves]
    per_k = final_epoch_step_accuracy(losses) if losses is not None else {}
    if per_k:
        table = ReportTable(
            ["k (steps ahead)", "accuracy (final-epoch mean)"],
            [[str(k), format_value(a, 4)] for k, a in per_k.items()],
            [True, True],
        )
        training.tables.append(("Prediction accuracy per step k", table))
    if training.figures or training.tables:
        sections.append(training)

    if tsne:
        sections.append(ReportSection("t-SNE", figures=[ReportFigure(p, p.name) for p in tsne]))
    if other:
        sections.append(
            ReportSection("Other figures", figures=[ReportFigure(p, p.name) for p in other])
        )

    rows = [[key, format_value(value)] for key, value in flat.items()]
    rows += [[f"evaluation.{key}", format_value(value)] for key, value in eval_flat.items()]
    sections.append(
        ReportSection(
            "All metrics", tables=[("", ReportTable(["key", "value"], rows, [False, True]))]
        )
    )
    return f"CPC run report: {root.resolve().name}", sections


def _html_table(table: ReportTable) -> str:
    esc = html.escape
    head = "".join(f"<th>{esc(h)}</th>" for h in table.header)
    body = []
    for row in table.rows:
        cells = []
        for i, cell in enumerate(row):
            num = i < len(table.numeric) and table.numeric[i]
            cells.append(f'<td class="num">{esc(cell)}</td>' if num else f"<td>{esc(cell)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _render_html(title: str, sections: list[ReportSection]) -> str:
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{esc(title)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
    ]
    for sec in sections:
        parts.append(f"<h2>{esc(sec.title)}</h2>")
        for note in sec.notes:
            parts.append(f"<p>{esc(note)}</p>")
        for caption, table in sec.tables:
            if caption:
                parts.append(f"<h3>{esc(caption)}</h3>")
            parts.append(_html_table(table))
        if sec.code is not None:
            parts.append(
                f'<pre><code class="language-{esc(sec.code_lang)}">{esc(sec.code)}</code></pre>'
            )
        for fig in sec.figures:
            data = base64.b64encode(fig.path.read_bytes()).decode("ascii")
            parts.append(
                f'<figure><img src="data:image/png;base64,{data}" alt="{esc(fig.caption)}">'
                f"<figcaption>{esc(fig.caption)}</figcaption></figure>"
            )
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _md_text(text: str) -> str:
    """Text for Markdown: HTML-escaped, since Markdown passes raw HTML through."""
    return html.escape(text, quote=False)


def _md_cell(text: str) -> str:
    return _md_text(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _md_table(table: ReportTable) -> str:
    lines = ["| " + " | ".join(_md_cell(h) for h in table.header) + " |"]
    aligns = [
        ("---:" if i < len(table.numeric) and table.numeric[i] else "---")
        for i in range(len(table.header))
    ]
    lines.append("| " + " | ".join(aligns) + " |")
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in table.rows]
    return "\n".join(lines)


def _render_md(title: str, sections: list[ReportSection]) -> str:
    parts = [f"# {_md_text(title)}"]
    for sec in sections:
        parts.append(f"## {sec.title}")
        parts += [_md_text(note) for note in sec.notes]
        for caption, table in sec.tables:
            if caption:
                parts.append(f"### {_md_text(caption)}")
            parts.append(_md_table(table))
        if sec.code is not None:
            fence = "```"
            while fence in sec.code:
                fence += "`"
            parts.append(f"{fence}{sec.code_lang}\n{sec.code.rstrip()}\n{fence}")
        for fig in sec.figures:
            alt = fig.caption.replace("[", "(").replace("]", ")")
            parts.append(f"![{alt}]({quote(fig.path.name)})")
    return "\n\n".join(parts) + "\n"


def write_report(run_dir: str | Path) -> tuple[Path, Path]:
    """Write ``report.html`` and ``report.md`` into a run folder.

    Sections: run summary (final loss, probe accuracies, alignment,
    uniformity), baselines (``metrics.json["baselines"]``: rows with ``name``,
    ``features``, ``protocol``, ``train_accuracy``, ``test_accuracy``; per
    modality when only nested sections hold them), the configuration
    (``config.yaml``), training curves and the final-epoch accuracy for each
    prediction step k (from ``losses.csv``), t-SNE maps (``tsne_*.png``), other
    PNG figures, and every metric under its dotted key (nested sections such
    as ``{"audio": {...}, "image": {...}}`` are flattened generically).
    Missing optional files are skipped.

    Args:
        run_dir: the run folder.

    Returns:
        ``(path of report.html, path of report.md)``.

    Raises:
        CpckitError: when the folder or its ``metrics.json`` is missing, or
            ``metrics.json`` is not a JSON object.
    """
    root = Path(run_dir)
    if not root.is_dir():
        raise CpckitError(f"run folder not found: {root}")
    title, sections = report_sections(root)
    html_path = root / REPORT_HTML
    md_path = root / REPORT_MD
    html_path.write_text(_render_html(title, sections), encoding="utf-8")
    md_path.write_text(_render_md(title, sections), encoding="utf-8")
    return html_path, md_path
