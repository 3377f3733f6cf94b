"""``cpckit prepare`` through the CLI: downloads from a local HTTP server, the next step, errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from helpers.archives import ServeArchive, cifar_archive, wav_bytes

if TYPE_CHECKING:
    from helpers.server import FileServer


@pytest.fixture
def cli_with_prepare(monkeypatch: pytest.MonkeyPatch) -> Callable[..., int]:
    """``cpckit.cli.main`` with the ``prepare`` subcommand registered."""
    import cpckit.cli

    if "prepare" not in cpckit.cli.SUBCOMMAND_MODULES:
        monkeypatch.setattr(
            cpckit.cli, "SUBCOMMAND_MODULES", [*cpckit.cli.SUBCOMMAND_MODULES, "prepare"]
        )
    return cpckit.cli.main


def test_prepare_command_downloads_and_prints_the_next_step(
    server: FileServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    cli_with_prepare: Callable[..., int],
    serve_archive: ServeArchive,
):
    top = "free-spoken-digit-dataset-1.0.9/recordings"
    serve_archive("v1.0.9.tar.gz", {f"{top}/{d}_ann_0.wav": wav_bytes() for d in range(2)})
    code = cli_with_prepare(["prepare", "fsdd", "--root", str(tmp_path), "--base-url", server.url])
    out = capsys.readouterr().out
    recordings = tmp_path / top
    assert code == 0 and sorted(p.name for p in recordings.iterdir()) == [
        "0_ann_0.wav",
        "1_ann_0.wav",
    ]
    assert f"fsdd is ready in {recordings}" in out
    assert f"next: cpckit train --config configs/fsdd.yaml --audio-root {recordings}" in out


def _class_counts(images: Path) -> dict[str, int]:
    return {p.name: len(list(p.glob("*.png"))) for p in sorted(images.iterdir()) if p.is_dir()}


@pytest.mark.parametrize(
    ("flags", "counts"),
    [
        ([], {"class0": 5, "class1": 5}),  # airplane, automobile; all 5 (< 2000) of each
        (["--classes", "0,truck", "--max-per-class", "2"], {"class0": 2, "class9": 1}),
    ],
)
def test_prepare_cifar10_writes_the_class_folders_asked_for(
    flags: list[str],
    counts: dict[str, int],
    server: FileServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    cli_with_prepare: Callable[..., int],
    serve_archive: ServeArchive,
):
    serve_archive("cifar-10-python.tar.gz", cifar_archive()[0])
    root = tmp_path / "data"
    code = cli_with_prepare(
        ["prepare", "cifar10", "--root", str(root), "--base-url", server.url, *flags]
    )
    out = capsys.readouterr().out
    assert code == 0 and _class_counts(root / "images") == counts
    assert (root / "images" / next(iter(counts)) / "00000.png").is_file()
    assert (
        f"next: cpckit train --modality image --use-mock-data false --image-root {root / 'images'}"
        in out
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["librispeech", "--subsets", "dev-clean", "--base-url", "http://127.0.0.1:1"],
            "error: could not download http://127.0.0.1:1/dev-clean.tar.gz: the connection was refused; "
            "on a machine without internet, put dev-clean.tar.gz (from that URL) in ",
        ),
        (
            ["fsdd", "--subsets", "dev-clean"],
            "error: --subsets is an option of `cpckit prepare librispeech`, not fsdd",
        ),
        (
            ["cifar10", "--max-per-class", "lots"],
            "error: --max-per-class = 'lots' is not valid: expected a whole number >= 1",
        ),
        (
            ["cifar10", "--max-per-class", "0"],
            "error: --max-per-class = '0' is not valid: expected a whole number >= 1",
        ),
        (
            ["cifar10", "--classes", "plane"],
            "error: --classes: 'plane' is not a CIFAR-10 class; valid: 0-9 or airplane, "
            "automobile, bird, cat, deer, dog, frog, horse, ship, truck",
        ),
        (
            ["cifar10", "--classes", "0,12"],
            "error: --classes: '12' is not a CIFAR-10 class; valid: 0-9 or airplane",
        ),
        (["cifar10", "--classes", ","], "error: --classes is empty: choose from 0-9 or airplane"),
        (
            ["fsdd", "--classes", "0,1"],
            "error: --classes is an option of `cpckit prepare cifar10`, not fsdd",
        ),
    ],
)
def test_prepare_command_errors_are_one_line_and_exit_2_or_1(
    args: list[str],
    message: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    cli_with_prepare: Callable[..., int],
):
    import time

    start = time.perf_counter()
    code = cli_with_prepare(["prepare", *args, "--root", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    # a bad flag is a usage error (2); a download that cannot be done is a failed run (1)
    status = 1 if "could not download" in message else 2
    assert code == status and err.startswith(message) and len(err.splitlines()) == 1, err
    assert time.perf_counter() - start < 5  # no retries when the host cannot be reached
