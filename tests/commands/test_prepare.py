"""``cpckit prepare`` through the CLI: downloads from a local HTTP server, the next step, errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from helpers.archives import TarGz, md5, wav_bytes

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
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    cli_with_prepare: Callable[..., int],
    tar_gz: TarGz,
):
    import cpckit.data.prepare as prepare_module

    archive = tar_gz(
        {f"free-spoken-digit-dataset-1.0.9/recordings/{d}_ann_0.wav": wav_bytes() for d in range(2)}
    )
    server.files["/v1.0.9.tar.gz"] = archive
    monkeypatch.setitem(prepare_module.CHECKSUMS, "v1.0.9.tar.gz", md5(archive))
    code = cli_with_prepare(["prepare", "fsdd", "--root", str(tmp_path), "--base-url", server.url])
    out = capsys.readouterr().out
    recordings = tmp_path / "free-spoken-digit-dataset-1.0.9" / "recordings"
    assert code == 0 and sorted(p.name for p in recordings.iterdir()) == [
        "0_ann_0.wav",
        "1_ann_0.wav",
    ]
    assert f"fsdd is ready in {recordings}" in out
    assert f"next: cpckit train --config configs/fsdd.yaml --audio-root {recordings}" in out


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
            ["cifar10", "--classes", "plane"],
            "error: classes: 'plane' is not a CIFAR-10 class; valid: airplane",
        ),
    ],
)
def test_prepare_command_errors_are_one_line_and_exit_2(
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
    assert code == 2 and err.startswith(message) and len(err.splitlines()) == 1, err
    assert time.perf_counter() - start < 5  # no retries when the host cannot be reached
