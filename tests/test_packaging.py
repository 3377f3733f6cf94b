"""The package as others install it: metadata, the version's one home, a wheel that runs.

The wheel test builds cpckit's wheel offline (``pip wheel --no-deps
--no-build-isolation``, with the setuptools of the test extra), installs it
with its dependencies into a new virtual environment and runs ``cpckit
--help`` there, and embeds a waveform with a shipped model (``fsdd-small``) read from
the installed package. It takes about a minute, so it runs only with
``CPCKIT_TEST_WHEEL=1`` (``.ci/run`` sets it in a step of its own).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

import cpckit
from cpckit.model_folder import SHIPPED

ROOT = Path(__file__).resolve().parents[1]
TORCH = "torch==2.13.0"
"""The CPU build the Makefile installs first (a plain ``torch`` could pull a CUDA build)."""


def _pyproject() -> dict[str, Any]:
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    data: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return data


def test_version_lives_in_one_place() -> None:
    meta = _pyproject()
    assert "version" not in meta["project"] and "version" in meta["project"]["dynamic"]
    assert meta["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "cpckit.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", cpckit.__version__)
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert "## [Unreleased]" in changelog
    assert f"## [{cpckit.__version__}]" in changelog


def test_license_is_an_spdx_expression_with_its_file() -> None:
    project = _pyproject()["project"]
    assert project["license"] == "MIT" and project["license-files"] == ["LICENSE"]
    assert (ROOT / "LICENSE").read_text().startswith("MIT License\n")


def test_core_dependencies_leave_the_optional_features_out() -> None:
    """librosa is a test reference only; openTSNE, TensorBoard and MLflow are extras."""
    project = _pyproject()["project"]
    names = {re.split(r"[<>=\[ ]", d)[0].lower() for d in project["dependencies"]}
    assert not names & {"librosa", "opentsne", "tensorboard", "mlflow"}
    extras = project["optional-dependencies"]
    assert extras["tsne"] == ["openTSNE>=1.0"] and extras["tensorboard"][0].startswith(
        "tensorboard"
    )
    sources = list((ROOT / "src" / "cpckit").rglob("*.py"))
    assert len(sources) > 50
    importers = [
        f for f in sources if re.search(r"^\s*(import|from) librosa\b", f.read_text(), re.M)
    ]
    assert importers == []


def _run(cmd: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False, **kw)


@pytest.mark.slow
@pytest.mark.skipif(
    not os.environ.get("CPCKIT_TEST_WHEEL"),
    reason="builds and installs a wheel: CPCKIT_TEST_WHEEL=1",
)
def test_wheel_installs_into_a_clean_venv_and_runs(tmp_path: Path) -> None:
    src = tmp_path / "src"  # a copy, so the build leaves no build/ or egg-info in the checkout
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "src", src / "src", ignore=shutil.ignore_patterns("__pycache__"))
    dist = tmp_path / "dist"
    built = _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-v"]
        + ["-w", str(dist), str(src)]
    )
    assert built.returncode == 0, built.stdout + built.stderr
    log = built.stdout + built.stderr
    assert "Deprecat" not in log and "BuildBackendWarning" not in log, log
    (wheel,) = dist.glob("cpckit-*.whl")
    assert wheel.name.startswith(f"cpckit-{cpckit.__version__}-py3-none-any")
    with zipfile.ZipFile(wheel) as zf:
        files = zf.namelist()
        info = f"cpckit-{cpckit.__version__}.dist-info"
        metadata = zf.read(f"{info}/METADATA").decode()
    assert f"{info}/licenses/LICENSE" in files and "cpckit/py.typed" in files
    for name in SHIPPED:
        for part in ("config.json", "model.safetensors", "README.md"):
            assert f"cpckit/pretrained/{name}/{part}" in files, (name, part)
    assert "License-Expression: MIT" in metadata and "Project-URL" not in metadata

    venv = tmp_path / "venv"
    assert _run([sys.executable, "-m", "venv", str(venv)]).returncode == 0
    py = venv / "bin" / "python"
    for spec in (TORCH, str(wheel)):
        done = _run([str(py), "-m", "pip", "install", "--quiet", spec])
        assert done.returncode == 0, done.stdout + done.stderr
    helped = _run([str(venv / "bin" / "cpckit"), "--help"])
    assert helped.returncode == 0, helped.stderr
    assert "train" in helped.stdout and "evaluate" in helped.stdout
    version = _run([str(venv / "bin" / "cpckit"), "--version"])
    assert version.stdout.strip() == f"cpckit {cpckit.__version__}"
    # a shipped model, loaded from the installed wheel (not from this checkout), embeds audio
    embed = (
        "import cpckit, numpy as np; m = cpckit.from_pretrained('fsdd-small'); "
        "w = np.sin(np.arange(4000) * 0.3).astype('float32'); "
        "e = m.embed(w, sample_rate=8000).context; "
        "print(cpckit.__file__, e.shape, bool(np.isfinite(e).all()))"
    )
    shipped = _run([str(py), "-c", embed], cwd=tmp_path)
    assert shipped.returncode == 0, shipped.stderr
    where, shape = shipped.stdout.split(" ", 1)
    assert Path(where).is_relative_to(venv) and shape.strip() == "(128,) True", shipped.stdout
    optional = ("librosa", "numba", "openTSNE", "tensorboard", "mlflow", "huggingface_hub")
    probe = f"import importlib.util as u; print([m for m in {optional!r} if u.find_spec(m)])"
    lean = _run([str(py), "-c", probe])
    assert lean.stdout.strip() == "[]", lean.stdout + lean.stderr
