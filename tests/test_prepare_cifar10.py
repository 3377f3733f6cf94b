"""``python prepare_cifar10.py`` (the EE782 project's data script) is ``cpckit prepare cifar10``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from helpers.archives import ServeArchive, cifar_archive
from helpers.cli import run_script

if TYPE_CHECKING:
    from helpers.server import FileServer


def test_with_no_flag_it_writes_the_projects_two_classes_under_data(
    server: FileServer,
    serve_archive: ServeArchive,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    serve_archive("cifar-10-python.tar.gz", cifar_archive()[0])
    monkeypatch.chdir(tmp_path)
    code, out = run_script("prepare_cifar10.py", "--base-url", server.url)  # the mirror only
    assert code == 0, out
    images = tmp_path / "data" / "images"
    assert sorted(p.name for p in images.iterdir() if p.is_dir()) == ["class0", "class1"]
    assert sorted(p.name for p in (images / "class1").glob("*.png"))[:2] == [
        "00000.png",
        "00001.png",
    ]
    assert (tmp_path / "data" / "cifar10_raw" / "cifar-10-batches-py").is_dir()
    assert "cifar10 is ready in data/images" in out


def test_its_flags_are_cpckit_prepares(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_script("prepare_cifar10.py", "--help")
    assert code == 0
    for flag in ("--classes", "--max-per-class", "--root", "--base-url"):
        assert flag in out, flag
    code, _ = run_script("prepare_cifar10.py", "--root", tmp_path, "--classes", "plane")
    assert code == 2 and not (tmp_path / "images").exists()
    assert capsys.readouterr().err.startswith("error: --classes: 'plane' is not a CIFAR-10 class")
