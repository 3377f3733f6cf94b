"""End-to-end `cpckit train` on a folder of real wav files (written here), and its errors."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from cpckit.cli import main
from helpers.runs import RUN_FILES, check_files, check_final_loss

REPO = Path(__file__).resolve().parents[1]
FSDD_CONFIG = REPO / "configs" / "fsdd.yaml"

# configs/fsdd.yaml at toy sizes: one epoch, small layers, 0.2 s windows.
TINY = [
    "train.epochs=1",
    "train.batch_size=8",
    "train.threads=1",
    "train.logger=none",
    "audio_encoder.mel_channels=16",
    "audio_encoder.mel_layers=1",
    "model.z_dim=16",
    "model.c_dim=16",
    "negatives.n_negatives=8",
    "data.full_duration=0.2",
    "data.test_fraction=0.3",
    "eval.max_examples=64",
]


def _write_recordings(root: Path) -> None:
    """2 speakers x 2 digits x 5 takes of 8 kHz sine + noise with FSDD names, and one corrupt file."""
    rng = np.random.default_rng(0)
    rate = 8000
    for digit, freq in ((0, 300.0), (1, 900.0)):
        for speaker, noise in (("ann", 0.02), ("bob", 0.2)):
            for take in range(5):
                t = np.arange(int(rate * (0.15 + 0.05 * take))) / rate
                wave = 0.5 * np.sin(2 * np.pi * freq * t) + noise * rng.standard_normal(t.size)
                sf.write(root / f"{digit}_{speaker}_{take}.wav", wave.astype(np.float32), rate)
    (root / "1_bob_9.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot a wave file")
    (root / "README.txt").write_text("not audio")


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fsdd") / "recordings"
    root.mkdir()
    _write_recordings(root)
    return root


@pytest.fixture(scope="module")
def real_run(
    recordings: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, str, list[str]]:
    out = tmp_path_factory.mktemp("run") / "outputs_fsdd"
    printed = io.StringIO()
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(printed):
        warnings.simplefilter("always")
        code = main(
            [
                "train",
                "--modality",
                "audio",
                "--use-mock-data",
                "false",
                "--audio-root",
                str(recordings),
                "--config",
                str(FSDD_CONFIG),
                "--out-dir",
                str(out),
                *TINY,
            ]
        )
    assert code == 0
    return out, printed.getvalue(), [str(w.message) for w in caught]


def test_real_audio_run_writes_the_run_folder(real_run: tuple[Path, str, list[str]]) -> None:
    out, _, _ = real_run
    check_files(out, [*RUN_FILES, "tsne_audio.png"])


def test_real_audio_run_reports_probes_and_baselines(real_run: tuple[Path, str, list[str]]) -> None:
    out, printed, _ = real_run
    metrics = json.loads((out / "metrics.json").read_text())
    check_final_loss(out, metrics)
    assert metrics["probe"]["n_train"] == 14 and metrics["probe"]["n_test"] == 6
    for key in ("probe", "latent_probe"):
        assert 0.0 <= metrics[key]["test_accuracy"] <= 1.0
    rows = {(r["name"], r["features"]): r for r in metrics["baselines"]}
    assert set(rows) >= {
        ("CPC", "context (pooled)"),
        ("CPC", "latent (pooled)"),
        ("random init", "context (pooled)"),
        ("MFCC statistics", "input"),
    }
    # the two digits are tones of 300 and 900 Hz: MFCC statistics separate them
    assert rows[("MFCC statistics", "input")]["test_accuracy"] == 1.0
    assert "data: skipped files: 1" in printed
    assert "data: probe: 'digit' on whole clips: 14 train, 6 test, 2 classes" in printed
    assert "probe.test_accuracy" in printed


def test_real_audio_run_warns_about_the_corrupt_file(real_run: tuple[Path, str, list[str]]) -> None:
    _, _, messages = real_run
    assert any(
        m.startswith("skipping unreadable audio file") and "1_bob_9.wav" in m for m in messages
    )


def _train(root: Path, out: Path, *extra: str) -> list[str]:
    return [
        "train",
        "--modality",
        "audio",
        "--use-mock-data",
        "false",
        "--audio-root",
        str(root),
        "--config",
        str(FSDD_CONFIG),
        "--out-dir",
        str(out),
        *TINY,
        *extra,
    ]


@pytest.mark.parametrize(
    ("case", "extra", "message"),
    [
        ("empty", [], "is empty: put wav, flac or ogg files in it"),
        ("formats", [], "its 2 files are .m4a (1), .txt (1), none in a format soundfile reads"),
        (
            "recordings",
            [r"data.label_regex=(?P<w>[a-z]+)-\d+\.wav", "data.label_key=w", "data.group_key=null"],
            "no file of the 21 in",
        ),
        (
            "recordings",
            ["data.label_key=spk"],
            "data.label_key = 'spk' is not a named group of label_regex",
        ),
        ("recordings", ["data.label_key=null"], "eval.probe = true needs data.label_key"),
    ],
)
def test_bad_real_audio_input_is_one_line_and_exit_2(
    case: str,
    extra: list[str],
    message: str,
    recordings: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = recordings if case == "recordings" else tmp_path / case
    if case == "empty":
        root.mkdir()
    if case == "formats":
        root.mkdir()
        (root / "a.m4a").write_bytes(b"0000")
        (root / "notes.txt").write_text("x")
    capsys.readouterr()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main(_train(root, tmp_path / "out", *extra))
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("error: ") and message in err, err
    assert len(err.splitlines()) == 1


def test_bad_audio_root_through_the_command_line_has_no_traceback(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "cpckit", *_train(tmp_path / "missing", tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: data.audio_root {tmp_path / 'missing'} does not exist"
