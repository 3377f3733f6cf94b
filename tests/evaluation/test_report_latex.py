"""The LaTeX report of several run folders: structure, figure paths, numbers, escaping, pdflatex."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from cpckit.errors import CpckitError
from cpckit.evaluation.report_latex import latex_text, write_latex_report

ODD_NAME = "run_1 & 50% #2 ~x^y $z"
"""A run folder name holding every LaTeX special character a file name can hold."""


def _baseline(name: str, features: str, train: float, test: float) -> dict[str, Any]:
    return {
        "name": name,
        "features": features,
        "protocol": "split (the run's probe split)",
        "train_accuracy": train,
        "test_accuracy": test,
    }


AUDIO = {
    "final_loss": 1.2345,
    "probe": {"train_accuracy": 0.9875, "test_accuracy": 0.9531},
    "baselines": [
        _baseline("CPC", "context (pooled)", 0.9875, 0.9531),
        _baseline("random init", "context (pooled)", 0.75, 0.6172),
        _baseline("MFCC statistics", "input", 0.9, 0.8828),
    ],
    "alignment": 0.4321,
    "uniformity": -2.7654,
}
MULTIMODAL = {
    "final_loss": 3.5,
    "audio": {
        "probe": {"train_accuracy": 0.91, "test_accuracy": 0.8906},
        "baselines": [_baseline("random init", "context (pooled)", 0.6, 0.5547)],
        "alignment": 0.25,
        "uniformity": -1.5,
    },
    "image": {
        "probe": {"train_accuracy": 0.8, "test_accuracy": 0.7109},
        "baselines": [_baseline("raw pixels", "input", 0.7, 0.6641)],
        "alignment": 0.5,
        "uniformity": -1.25,
    },
    "baselines": [
        _baseline("random init [audio]", "context (pooled)", 0.6, 0.5547),
        _baseline("raw pixels [image]", "input", 0.7, 0.6641),
    ],
}


def _run(folder: Path, metrics: dict[str, Any], modality: str, tsne: tuple[str, ...]) -> Path:
    """A run folder as training leaves it: metrics.json, config.yaml, losses.csv, PNGs."""
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text(json.dumps(metrics))
    (folder / "config.yaml").write_text(f"data:\n  modality: {modality}\n")
    (folder / "losses.csv").write_text("step,epoch,loss,accuracy,acc_k1\n1,0,2.5,0.1,0.1\n")
    for name in ("training_curve", *(f"tsne_{m}" for m in tsne)):
        Image.new("RGB", (24, 16), (40, 120, 200)).save(folder / f"{name}.png")
    return folder


@pytest.fixture
def runs(tmp_path: Path) -> list[Path]:
    return [
        _run(tmp_path / "outputs_audio", AUDIO, "audio", ("audio",)),
        _run(tmp_path / ODD_NAME, AUDIO, "audio", ("audio",)),
        _run(tmp_path / "outputs_multimodal", MULTIMODAL, "multimodal", ("audio", "image")),
    ]


def _graphics(tex: str) -> list[str]:
    return re.findall(r"\\cpcgraphic\{[^}]*\}\{(.*)\}$", tex, flags=re.M)


def test_latex_text_escapes_every_special_character() -> None:
    assert latex_text(r"a_b & 50% #1 $x$ ^ ~ {y} \z <w>|") == (
        r"a\_b \& 50\% \#1 \$x\$ \textasciicircum{} \textasciitilde{} \{y\} "
        r"$\backslash$z $<$w$>$$|$"
    )


def test_latex_report_has_every_run_figure_and_number(tmp_path: Path, runs: list[Path]) -> None:
    tex_path = write_latex_report(runs, tmp_path / "report" / "cpc_report.tex")
    assert tex_path == tmp_path / "report" / "cpc_report.tex"
    tex = tex_path.read_text()
    assert tex.count(r"\documentclass") == 1 and tex.rstrip().endswith(r"\end{document}")
    assert tex.count(r"\begin{tabular}") == tex.count(r"\end{tabular}")
    # every figure of every run, by its path from the .tex file's folder
    figures = _graphics(tex)
    expected = [f"../{r.name}/{n}" for r in runs for n in sorted(p.name for p in r.glob("*.png"))]
    assert sorted(figures) == sorted(expected) and len(figures) == 7
    for fig in figures:
        assert (tex_path.parent / fig).is_file(), fig
    # the results table: one row per run and modality, the probe beside its baselines
    rows = [line for line in tex.splitlines() if line.endswith(r" \\")]
    assert (
        r"outputs\_audio & audio & 1.2345 & 0.9531 & 0.6172 & 0.8828 (MFCC statistics) "
        r"& 0.4321 & -2.7654 \\" in rows
    )
    assert (
        r"outputs\_multimodal & audio & 3.5000 & 0.8906 & 0.5547 & n/a & 0.2500 & -1.5000 \\"
        in rows
    )
    assert (
        r"outputs\_multimodal & image & 3.5000 & 0.7109 & n/a & 0.6641 (raw pixels) "
        r"& 0.5000 & -1.2500 \\" in rows
    )
    # each run's baseline table
    assert (
        r"random init & context (pooled) & split (the run's probe split) & 0.7500 & 0.6172 \\"
        in rows
    )
    # the odd run name is escaped wherever it is typeset, and plain in its figure paths
    escaped = r"run\_1 \& 50\% \#2 \textasciitilde{}x\textasciicircum{}y \$z"
    assert rf"\section{{Run \texttt{{{escaped}}}}}" in tex
    assert ODD_NAME not in tex.replace(f"{{../{ODD_NAME}/", "")


def test_latex_report_errors_name_what_is_wrong(tmp_path: Path, runs: list[Path]) -> None:
    with pytest.raises(CpckitError, match=r"must be a \.tex file, e\.g\. report/cpc_report\.tex"):
        write_latex_report(runs, tmp_path / "report.pdf")
    with pytest.raises(CpckitError, match=r"^run folder not found: .*nope$"):
        write_latex_report([*runs, tmp_path / "nope"], tmp_path / "r.tex")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CpckitError, match=r"^metrics\.json not found in run folder"):
        write_latex_report([tmp_path / "empty"], tmp_path / "r.tex")
    with pytest.raises(CpckitError, match=r"^no run folder to report"):
        write_latex_report([], tmp_path / "r.tex")
    bad = _run(tmp_path / "a\\b", AUDIO, "audio", ())
    with pytest.raises(CpckitError, match=r"has a backslash or an unbalanced brace"):
        write_latex_report([bad], tmp_path / "r.tex")


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
def test_latex_report_compiles_with_pdflatex(tmp_path: Path, runs: list[Path]) -> None:
    tex_path = write_latex_report(runs, tmp_path / "report" / "cpc_report.tex")
    done = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", tex_path.name],
        cwd=tex_path.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    log = (tex_path.parent / "cpc_report.log").read_text(errors="replace")
    # every figure was found and read, the odd-named folder's too
    used = set(re.findall(r"<use (\.\./[^>]*\.png)>", log.replace("\n", "")))
    assert used == set(_graphics(tex_path.read_text())), log[-3000:]
    assert (tex_path.parent / "cpc_report.pdf").stat().st_size > 1000
