"""``cpckit report``: a run folder's report as one self-contained HTML page and Markdown."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_parser", "cmd_report"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "report",
        help="write report.html (self-contained) and report.md of a run folder",
        description="Read a run folder (metrics.json, config.yaml, losses.csv, figures, and "
        "evaluation.json from `cpckit evaluate`) and write report.html, one page with every "
        "figure embedded, and report.md beside it.",
        epilog="example:\n  cpckit report outputs_audio",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="the run folder (train --out-dir)")
    p.set_defaults(func=cmd_report)
    return p


def cmd_report(args: argparse.Namespace) -> int:
    from cpckit.evaluation.report import write_report

    html_path, md_path = write_report(args.run_dir)
    print(f"wrote {html_path}")
    print(f"wrote {md_path}")
    return 0
