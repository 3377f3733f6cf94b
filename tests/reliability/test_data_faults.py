"""Faults in the user's data, end to end through ``cpckit``: NaN / inf samples, clips too short
to predict anything, an archive that fails its checksum, a ``--root`` that is not a folder.

Each case checks the exit code, the one line the user reads, that no traceback is printed, and
that nothing the user put there is deleted.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from helpers.archives import TarGz, md5, wav_bytes
from helpers.cli import run

if TYPE_CHECKING:
    from helpers.server import FileServer

RATE = 8000
# A two-layer conv encoder on 50 ms windows at 8 kHz: it needs 52 samples for the 2 valid latent
# steps of one prediction; the run trains one epoch and evaluates nothing but the loss.
TINY_REAL = [
    "--use-mock-data", "false", "--epochs", "1",
    "audio_encoder.kind=conv", "audio_encoder.conv_layers=[[1,8,10,5,3,1],[8,8,8,4,2,1]]",
    "model.z_dim=8", "model.c_dim=8", "model.prediction_steps=3",
    f"data.sample_rate={RATE}", "data.full_duration=0.05", "negatives.n_negatives=4",
    "train.batch_size=4", "train.threads=1", "train.logger=none", "eval.probe=false",
    "eval.tsne=false", "eval.geometry=false", "eval.baselines=false", "eval.report=false",
]  # fmt: skip


def _tones(root: Path, n: int = 8, samples: int = 800) -> None:
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        wave = 0.3 * np.sin(np.arange(samples) * (0.1 + 0.05 * i)) + 0.01 * rng.standard_normal(
            samples
        )
        sf.write(root / f"tone{i}.wav", wave.astype(np.float32), RATE)


def _nan_wav(path: Path, bad: float = float("nan")) -> Path:
    wave = np.full(800, 0.1)
    wave[40] = bad
    sf.write(path, wave, RATE, subtype="DOUBLE")
    return path


def _train(root: Path, out: Path, *extra: str) -> tuple[int, str, str, list[str]]:
    """``cpckit train`` on the folder ``root``: (exit code, stdout, stderr, warnings)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code, stdout, stderr = run(
            "train", "--audio-root", root, "--out-dir", out, *TINY_REAL, *extra
        )
    return code, stdout, stderr, [str(w.message) for w in caught]


def _one_error(code: int, stdout: str, stderr: str) -> str:
    """The run failed with exit code 1 and one ``error:`` line on stderr, without a traceback."""
    assert code == 1, stdout + stderr
    assert "Traceback" not in stdout + stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    return lines[0]


def _manifest_status(out: Path) -> str:
    status: str = json.loads((out / "manifest.json").read_text())["status"]
    return status


# ----------------------------------------------------------------------------- NaN and inf


def test_nan_and_inf_files_are_skipped_named_and_counted(tmp_path: Path) -> None:
    root = tmp_path / "clips"
    _tones(root)
    nan, inf = _nan_wav(root / "nan.wav"), _nan_wav(root / "inf.wav", float("-inf"))
    code, stdout, stderr, messages = _train(root, tmp_path / "run")
    assert code == 0 and "Traceback" not in stdout + stderr, stdout + stderr
    assert "data: clips: 8\n" in stdout and "data: skipped files: 2\n" in stdout
    for path, what in ((inf, "1 infinite"), (nan, "1 NaN")):
        assert (
            f"skipping audio file {path}: it holds {what} sample value(s) of 800 (the first in "
            "frame 40, at 0.005 s); only finite samples can be trained on: repair or re-export "
            "the file, or remove it"
        ) in messages
    assert _manifest_status(tmp_path / "run") == "finished"
    assert nan.is_file() and inf.is_file()  # skipped, not touched


def test_folder_of_only_nan_files_is_the_no_usable_files_error(tmp_path: Path) -> None:
    root = tmp_path / "clips"
    root.mkdir()
    _nan_wav(root / "a.wav")
    _nan_wav(root / "b.wav", float("inf"))
    code, stdout, stderr, _ = _train(root, tmp_path / "run")
    assert _one_error(code, stdout, stderr) == (
        f"error: none of the 2 audio files under {root} could be read (unreadable, empty, or "
        "holding NaN or infinite samples; e.g. a.wav): see the warnings above"
    )


# ----------------------------------------------------------------------------- short clips


def test_clips_too_short_for_one_prediction_are_dropped_and_the_run_finishes(
    tmp_path: Path,
) -> None:
    root = tmp_path / "clips"
    _tones(root)
    for i in range(2):
        sf.write(root / f"blip{i}.wav", np.full(51, 0.2, dtype=np.float32), RATE)
    out = tmp_path / "run"
    code, stdout, stderr, _ = _train(root, out)
    assert code == 0 and "Traceback" not in stdout + stderr, stdout + stderr
    assert (
        "data: too-short clips: dropped 2 of 10 clips shorter than 52 samples (0.0065 s at "
        "8000 Hz), too short for one valid prediction: blip0.wav, blip1.wav\n"
    ) in stdout
    assert "data: clips: 8\n" in stdout
    assert _manifest_status(out) == "finished"
    with open(out / "losses.csv", newline="") as f:
        losses = [float(row["loss"]) for row in csv.DictReader(f)]
    assert losses and min(losses) > 0.5  # InfoNCE with 4 negatives, not a constant 0


def test_folder_of_only_too_short_clips_is_one_error_naming_the_minimum(tmp_path: Path) -> None:
    root = tmp_path / "clips"
    _tones(root, n=3, samples=40)
    code, stdout, stderr, _ = _train(root, tmp_path / "run")
    assert _one_error(code, stdout, stderr) == (
        f"error: all 3 clips under data.audio_root {root} are shorter than 52 samples (0.0065 s "
        "at 8000 Hz), the fewest that give one valid prediction with the conv encoder (receptive "
        "field 45 samples, 20x downsampling) (the longest has 40 samples): use longer "
        "recordings, a higher data.sample_rate, or an encoder that needs fewer samples "
        "(audio_encoder.kind, n_fft, hop_length, mel_layers or conv_layers)"
    )
    assert not (tmp_path / "run" / "manifest.json").exists()  # stopped before training


def test_training_batch_without_a_valid_prediction_stops_with_one_line(tmp_path: Path) -> None:
    """Pairs read lazily are not measured at load: the first training step finds them empty."""
    rows = ["audio,image,label"]
    for i in range(8):
        sf.write(tmp_path / f"a{i}.wav", np.full(40, 0.1, dtype=np.float32), RATE)
        Image.new("RGB", (16, 16), (30 * i, 0, 0)).save(tmp_path / f"i{i}.png")
        rows.append(f"a{i}.wav,i{i}.png,{'cat' if i % 2 else 'dog'}")
    (tmp_path / "pairs.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "run"
    code, stdout, stderr = run(
        "train", "--modality", "multimodal", "--pairs-csv", tmp_path / "pairs.csv",
        "--out-dir", out, *TINY_REAL, "data.cache=false", "data.image_size=16",
        "image_encoder.patch_size=8", "image_encoder.stride=4", "image_encoder.width=8",
        "image_encoder.depth=1", "image_encoder.stem_stride=2",
    )  # fmt: skip
    line = _one_error(code, stdout, stderr)
    assert line.startswith(
        "error: training step 1: the batch has no valid prediction for audio: its 4 clip(s) give "
        "at most 1 valid latent step(s) (from at most 40 valid samples), and one prediction "
        "needs 2, so its loss would be a constant 0 that trains nothing: give longer clips"
    )
    assert _manifest_status(out) == "failed"


# ----------------------------------------------------------------------------- cpckit prepare


def _prepare(*args: object) -> subprocess.CompletedProcess[str]:
    """The real console entry in its own process, so stderr holds what a user sees."""
    return subprocess.run(
        [sys.executable, "-m", "cpckit", "prepare", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )


def _set_aside(downloads: Path, digest: str) -> Path:
    return downloads / f"v1.0.9.tar.gz.bad-{digest[:8]}"


def test_mismatching_archive_is_set_aside_and_named_when_there_is_no_network(
    tmp_path: Path,
) -> None:
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    mine = b"an archive copied by hand, cut short"
    (downloads / "v1.0.9.tar.gz").write_bytes(mine)
    proc = _prepare("fsdd", "--root", tmp_path, "--base-url", "http://127.0.0.1:1")
    want = "8bc44cde129d505cbbb6b365c09f80c663f2aa77578afc634e6141a2f87100c0"
    got = hashlib.sha256(mine).hexdigest()
    moved = _set_aside(downloads, got)
    facts = (
        f"{downloads / 'v1.0.9.tar.gz'} did not match its checksum (expected sha256 {want}, got "
        f"{got}) and was moved to {moved}"
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stdout + proc.stderr
    error = (
        "error: could not download http://127.0.0.1:1/v1.0.9.tar.gz: the connection was refused; "
        f"on a machine without internet, put v1.0.9.tar.gz (from that URL) in {downloads} and "
        f"run prepare again, or use a mirror (--base-url, base_url=); before that, {facts}"
    )
    # the warning when the file is moved, then the one error line
    assert proc.stderr.splitlines() == [f"{facts}; downloading it again", error]
    assert moved.read_bytes() == mine and not (downloads / "v1.0.9.tar.gz").exists()


def test_mismatching_archive_is_set_aside_and_downloaded_again(
    tmp_path: Path,
    server: FileServer,
    tar_gz: TarGz,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import cpckit.data.prepare as prepare_module

    archive = tar_gz({"free-spoken-digit-dataset-1.0.9/recordings/0_ann_0.wav": wav_bytes()})
    server.files["/v1.0.9.tar.gz"] = archive
    monkeypatch.setitem(prepare_module.CHECKSUMS, "v1.0.9.tar.gz", md5(archive))
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    mine = b"someone else's v1.0.9.tar.gz"
    (downloads / "v1.0.9.tar.gz").write_bytes(mine)
    with caplog.at_level(logging.WARNING, logger="cpckit.data.download"):
        code, stdout, stderr = run("prepare", "fsdd", "--root", tmp_path, "--base-url", server.url)
    assert code == 0 and "Traceback" not in stdout + stderr, stdout + stderr
    got = hashlib.md5(mine).hexdigest()
    moved = _set_aside(downloads, got)
    assert caplog.messages == [
        f"{downloads / 'v1.0.9.tar.gz'} did not match its checksum (expected md5 "
        f"{md5(archive)[4:]}, got {got}) and was moved to {moved}; downloading it again"
    ]
    assert moved.read_bytes() == mine
    recordings = tmp_path / "free-spoken-digit-dataset-1.0.9" / "recordings"
    assert [p.name for p in recordings.iterdir()] == ["0_ann_0.wav"]
    assert f"fsdd is ready in {recordings}" in stdout


@pytest.mark.parametrize("where", ["file", "under a file"])
def test_prepare_root_that_is_not_a_folder_is_one_line(tmp_path: Path, where: str) -> None:
    file = tmp_path / "f"
    file.write_text("notes")
    root = file if where == "file" else file / "data"
    proc = _prepare("fsdd", "--root", root)
    assert proc.returncode == 1 and "Traceback" not in proc.stdout + proc.stderr
    what = "is a file" if where == "file" else f"is under {file}, which is a file"
    assert proc.stderr.splitlines() == [
        f"error: root {root} {what}, not a folder: give a folder to put the dataset in (--root)"
    ]
    assert file.read_text() == "notes"
