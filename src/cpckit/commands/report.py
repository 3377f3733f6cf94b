"""``cpckit report``: a run folder's report as one self-contained HTML page and Markdown,
or several runs' reports as one LaTeX document (the EE782 project's ``report/cpc_report.tex``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "cmd_report"]

FORMATS = ("html", "latex")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "report",
        help="write report.html (self-contained) and report.md of a run folder, "
        "or one LaTeX report of several",
        description="Read run folders (metrics.json, config.yaml, losses.csv, figures, and "
        "evaluation.json from `cpckit evaluate`). --format html (the default) writes "
        "report.html, one page with every figure embedded, and report.md into each run "
        "folder. --format latex writes one .tex document of all the runs given: a results "
        "table (probe accuracies beside the random-init and input-level baselines, alignment, "
        "uniformity), then each run's tables, training curve and t-SNE figures, which it "
        "names by their paths from the .tex file's folder (compile there with pdflatex).",
        epilog="examples:\n"
        "  cpckit report outputs_audio\n"
        "  cpckit report --format latex outputs_audio outputs_image outputs_multimodal\n"
        "  cd report && pdflatex cpc_report.tex",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("run_dirs", metavar="RUN_DIR", nargs="+", help="run folders (train --out-dir)")
    p.add_argument(
        "--format",
        choices=FORMATS,
        default="html",
        help="html: report.html and report.md in each run folder; latex: one .tex file of "
        "all of them [default: html]",
    )
    p.add_argument(
        "--out",
        metavar="FILE.tex",
        type=Path,
        help="latex: the document to write [default: report/cpc_report.tex]",
    )
    p.set_defaults(func=cmd_report)
    return p


def cmd_report(args: argparse.Namespace) -> int:
    from cpckit.errors import ConfigError

    if args.format == "latex":
        from cpckit.evaluation.report_latex import LATEX_REPORT, write_latex_report

        tex = write_latex_report(args.run_dirs, args.out or LATEX_REPORT)
        print(f"wrote {tex}")
        print(f"compile: cd {tex.parent} && pdflatex {tex.name}")
        return 0
    if args.out is not None:
        raise ConfigError(
            f"--out {args.out} is for --format latex; the HTML report is written into each "
            "run folder (report.html, report.md)"
        )
    from cpckit.evaluation.report import write_report

    for run_dir in args.run_dirs:
        html_path, md_path = write_report(run_dir)
        print(f"wrote {html_path}")
        print(f"wrote {md_path}")
    return 0
