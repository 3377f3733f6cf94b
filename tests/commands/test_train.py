"""End-to-end `cpckit train` through the CLI (commands/train.py): tiny synthetic audio, images,
audio + image pairs, a folder of real wav files, queue + momentum negatives; help and errors."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import yaml
from PIL import Image

from cpckit.cli import main
from cpckit.commands.train import TRAIN_FLAGS, format_metrics
from cpckit.training.checkpoints import checkpoint_step, newest_valid_checkpoint
from helpers.cli import run, run_ok
from helpers.configs import TINY_RUN
from helpers.runs import RUN_FILES, check_files, check_final_loss, check_geometry
from helpers.training import train_args, train_in_process
from helpers.unsafe import unsafe_checkpoint

TINY = [
    "model.z_dim=16",
    "model.c_dim=16",
    "model.prediction_steps=3",
    "audio_encoder.conv_layers=[[1,16,10,5,3,1],[16,16,8,4,2,1]]",
    "data.full_duration=0.08",
    "data.n_train=48",
    "data.n_test=32",
    "negatives.n_negatives=8",
    "train.batch_size=16",
    "eval.max_examples=64",
]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("run") / "outputs_audio"
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(
            [
                "train",
                "--modality",
                "audio",
                "--use-mock-data",
                "true",
                "--out-dir",
                str(out),
                "--epochs",
                "2",
                "--neg-mode",
                "inbatch",
                *TINY,
            ]
        )
    assert code == 0
    return out, buf.getvalue()


def test_train_writes_every_file_of_the_run_folder(tiny_run: tuple[Path, str]) -> None:
    out, _ = tiny_run
    check_files(out, [*RUN_FILES, "tsne_audio.png", "report.html"])


def test_train_metrics_and_losses_are_consistent(tiny_run: tuple[Path, str]) -> None:
    out, printed = tiny_run
    metrics = json.loads((out / "metrics.json").read_text())
    check_final_loss(out, metrics)
    check_geometry(metrics)
    assert 0.0 <= metrics["probe"]["test_accuracy"] <= 1.0
    assert 0.0 <= metrics["probe"]["train_accuracy"] <= 1.0
    with (out / "losses.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    steps = [int(r["step"]) for r in rows]
    assert steps == list(range(1, 7))  # 48 examples / 16 per batch * 2 epochs
    assert set(rows[0]) >= {"step", "epoch", "loss", "accuracy", "acc_k1", "acc_k3"}
    npy = np.load(out / "losses.npy")
    assert np.allclose(npy, [float(r["loss"]) for r in rows], atol=1e-5)
    assert "probe.test_accuracy" in printed
    cfg = yaml.safe_load((out / "config.yaml").read_text())
    assert cfg["train"]["epochs"] == 2 and cfg["model"]["z_dim"] == 16


def test_saved_model_reloads_with_same_outputs(tiny_run: tuple[Path, str]) -> None:
    import cpckit

    out, _ = tiny_run
    model = cpckit.load(out / "cpc_model.pth")
    wave = np.sin(np.arange(1280) / 3).astype(np.float32)
    a = model.embed(wave, sample_rate=16000)
    b = cpckit.load(out).embed(wave, sample_rate=16000)
    assert a.context.shape == (16,) and a.latent.shape == (16,)
    assert np.allclose(a.context, b.context)


def _run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cpckit", *args], capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["train", "--epochs", "ten"],
            "error: train.epochs = 'ten' is not valid: expected an integer",
        ),
        (
            ["train", "--neg-mode", "bogus"],
            "error: negatives.mode names an unknown sampler 'bogus'",
        ),
        (
            ["train", "model.prediction_steps=70"],
            "error: data.full_duration = 0.64 s at 16000 Hz gives 65 latent steps",
        ),
        (["train", "train.nope=1"], "error: unknown config key 'train.nope'"),
        (
            ["train", "--config", "/nonexistent.yaml"],
            "error: config file '/nonexistent.yaml' does not exist",
        ),
    ],
)
def test_bad_config_exits_2_with_one_line(args: list[str], message: str) -> None:
    proc = _run_cli(*args)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_help_lists_commands_and_flags() -> None:
    proc = _run_cli("--help")
    assert proc.returncode == 0 and "train" in proc.stdout
    proc = _run_cli("train", "--help")
    for flag in (
        "--modality",
        "--use-mock-data",
        "--out-dir",
        "--epochs",
        "--neg-mode",
        "--resume",
        "KEY=VALUE",
    ):
        assert flag in proc.stdout
    assert "default: 10" in proc.stdout


# 16x16 images, 8x8 patches at stride 4: a 3x3 grid, 9 latent steps, K = 2.
TINY_IMAGE = [
    "data.image_size=16",
    "image_encoder.patch_size=8",
    "image_encoder.stride=4",
    "image_encoder.width=8",
    "image_encoder.depth=1",
    "image_encoder.stem_stride=2",
    "model.z_dim=16",
    "model.c_dim=16",
    "model.prediction_steps=2",
    "negatives.n_negatives=8",
    "negatives.n_queue=8",
    "negatives.queue_size=64",
    "negatives.n_synthetic=4",
    "negatives.n_crossmodal=8",
    "train.batch_size=16",
    "eval.max_examples=48",
    "eval.report=false",
    "train.logger=none",
]


TINY_AUDIO = [
    "data.full_duration=0.08",
    "audio_encoder.mel_channels=16",
    "audio_encoder.mel_layers=1",
]


IMAGE_RUN_FILES = [
    "config.yaml",
    "cpc_model.pth",
    "losses.csv",
    "losses.npy",
    "training_curve.png",
    "metrics.json",
]


def _train_images(*args: str) -> str:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["train", "--epochs", "1", *args])
    assert code == 0
    return buf.getvalue()


def _check_files(out: Path, names: list[str]) -> None:
    check_files(out, names)
    assert any((out / "checkpoints").glob("*.ckpt"))


def _check_section(section: dict, baseline_features: str) -> None:  # type: ignore[type-arg]
    assert 0.0 <= section["probe"]["test_accuracy"] <= 1.0
    check_geometry(section)
    rows = {row["name"]: row for row in section["baselines"]}
    assert {"CPC", "random init", baseline_features} <= set(rows)


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """train/ and test/ folders of two classes: reddish and bluish noise."""
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for split, count in (("train", 16), ("test", 8)):
        for cls, channel in (("red", 0), ("blue", 2)):
            folder = root / split / cls
            folder.mkdir(parents=True)
            for i in range(count):
                pixels = rng.integers(0, 120, size=(16, 16, 3), dtype=np.uint8)
                pixels[:, :, channel] += 120
                Image.fromarray(pixels).save(folder / f"{i:03d}.png")
    return root


def test_img_e2e_synthetic_images(tmp_path: Path) -> None:
    out = tmp_path / "outputs_image"
    printed = _train_images(
        "--modality",
        "image",
        "--use-mock-data",
        "true",
        "--out-dir",
        str(out),
        "--neg-mode",
        "queue+synthetic",
        "data.n_train=32",
        "data.n_test=24",
        "data.augment=true",
        *TINY_IMAGE,
    )
    _check_files(out, [*IMAGE_RUN_FILES, "tsne_image.png"])
    metrics = json.loads((out / "metrics.json").read_text())
    _check_section(metrics, "raw pixels")
    check_final_loss(out, metrics)
    assert "data: augmentation: ImageAugment(" in printed and "3x3 grid" in printed


def test_img_e2e_image_folder(tmp_path: Path, image_folder: Path) -> None:
    out = tmp_path / "outputs_image"
    printed = _train_images(
        "--modality",
        "image",
        "--use-mock-data",
        "false",
        "--image-root",
        str(image_folder),
        "--out-dir",
        str(out),
        "--neg-mode",
        "inbatch",
        *TINY_IMAGE,
        "eval.pool=grid",
        "eval.classifier=linear-cv",
    )
    _check_files(out, [*IMAGE_RUN_FILES, "tsne_image.png"])
    metrics = json.loads((out / "metrics.json").read_text())
    _check_section(metrics, "raw pixels")
    assert metrics["probe"]["n_train"] == 32 and metrics["probe"]["n_test"] == 16
    # the mean of each quadrant of the 3 x 3 grid of 16-dim contexts
    assert metrics["probe"]["n_features"] == 64
    assert metrics["probe"]["pool"] == "grid" and metrics["probe"]["classifier"] == "linear-cv"
    assert "folders train/ and test/: 32 train, 0 validation" in printed


def test_img_e2e_multimodal_pairs(tmp_path: Path) -> None:
    import cpckit

    out = tmp_path / "outputs_multimodal"
    _train_images(
        "--modality",
        "multimodal",
        "--use-mock-data",
        "true",
        "--out-dir",
        str(out),
        "--neg-mode",
        "inbatch+crossmodal",
        "data.n_train=32",
        "data.n_test=24",
        *TINY_IMAGE,
        *TINY_AUDIO,
    )
    _check_files(out, [*IMAGE_RUN_FILES, "tsne_audio.png", "tsne_image.png"])
    metrics = json.loads((out / "metrics.json").read_text())
    check_final_loss(out, metrics)
    _check_section(metrics["audio"], "MFCC statistics")
    _check_section(metrics["image"], "raw pixels")
    names = {row["name"] for row in metrics["baselines"]}
    assert {"CPC [audio]", "CPC [image]", "raw pixels [image]"} <= names
    model = cpckit.load(out)
    assert model.modalities == ["audio", "image"]
    emb = model.embed(torch.rand(3, 16, 16), modality="image")
    assert emb.context.shape == (16,) and emb.context_frames.shape == (9, 16)
    wave = np.sin(np.arange(1280) / 3).astype(np.float32)
    assert model.embed(wave, sample_rate=16000).context.shape == (16,)


REPO = Path(__file__).resolve().parents[2]


FSDD_CONFIG = REPO / "configs" / "fsdd.yaml"


# configs/fsdd.yaml at toy sizes: one epoch, small layers, 0.2 s windows.
TINY_FSDD = [
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
                *TINY_FSDD,
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


def _real_audio_args(root: Path, out: Path, *extra: str) -> list[str]:
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
        *TINY_FSDD,
        *extra,
    ]


@pytest.mark.parametrize(
    ("case", "extra", "status", "message"),
    [  # the data does not serve (exit 1), or the config asks for something invalid (2)
        ("empty", [], 1, "is empty: put wav, flac or ogg files in it"),
        ("formats", [], 1, "its 2 files are .m4a (1), .txt (1), none in a format soundfile reads"),
        (
            "recordings",
            [r"data.label_regex=(?P<w>[a-z]+)-\d+\.wav", "data.label_key=w", "data.group_key=null"],
            1,
            "no file of the 21 in",
        ),
        (
            "recordings",
            ["data.label_key=spk"],
            2,
            "data.label_key = 'spk' is not a named group of label_regex",
        ),
        ("recordings", ["data.label_key=null"], 2, "eval.probe = true needs data.label_key"),
    ],
)
def test_bad_real_audio_input_is_one_line_with_its_exit_code(
    case: str,
    extra: list[str],
    status: int,
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
        code = main(_real_audio_args(root, tmp_path / "out", *extra))
    err = capsys.readouterr().err.strip()
    assert code == status
    assert err.startswith("error: ") and message in err, err
    assert len(err.splitlines()) == 1


def test_bad_audio_root_through_the_command_line_has_no_traceback(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "cpckit", *_real_audio_args(tmp_path / "missing", tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"error: data.audio_root '{tmp_path / 'missing'}' does not exist"


def _state(run: Path) -> dict[str, torch.Tensor]:
    blob = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    state: dict[str, torch.Tensor] = blob["state_dict"]
    return state


def test_neg_queue_with_momentum_trains_checkpoints_and_resumes(tmp_path: Path) -> None:
    out = tmp_path / "run"
    common = ["--modality", "audio", "--use-mock-data", "true", "--out-dir", str(out),
              "--neg-mode", "queue+synthetic", "negatives.momentum=0.9", *TINY_RUN]  # fmt: skip
    run_ok("train", "--epochs", "1", *common)
    state = _state(out)
    queue_key = next(k for k in state if k.endswith(".queue.queue"))
    filled = int(state[queue_key.replace(".queue.queue", ".queue.filled")])
    # 2 steps of 16 sequences, every latent of each enqueued; the queue (1024) is not full
    assert filled > 0 and filled % 32 == 0 and 2 * filled <= 1024
    assert state[queue_key][:filled].abs().sum() > 0
    # the key encoder is an EMA of the online encoder: close to it, not equal
    key_names = [k for k in state if k.startswith("objective.key_encoder.encoders.audio.")]
    assert key_names
    online = {
        k: state[k.replace("objective.key_encoder.encoders.", "model.encoders.")] for k in key_names
    }
    moved = [
        not torch.equal(state[k], online[k]) for k in key_names if state[k].is_floating_point()
    ]
    assert any(moved)

    run_ok("train", "--epochs", "2", "--resume", "auto", *common)
    resumed = _state(out)
    assert int(resumed[queue_key.replace(".queue.queue", ".queue.filled")]) == 2 * filled
    # the resumed run started from the saved queue: its first rows are the checkpointed keys
    assert torch.equal(resumed[queue_key][:filled], state[queue_key][:filled])
    with (out / "losses.csv").open() as fh:
        assert [int(r["step"]) for r in csv.DictReader(fh)] == [1, 2, 3, 4]


def test_cmd_train_help_names_every_flag_with_its_key(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for flag, (key, _) in TRAIN_FLAGS.items():
        assert flag in text and key in text, flag


def test_cmd_format_metrics_dots_nested_keys_and_tabulates_baselines() -> None:
    text = format_metrics(
        {
            "final_loss": 1.23456,
            "probe": {"test_accuracy": 0.5, "n": 3},
            "baselines": [
                {"name": "random", "features": "context", "train_accuracy": 0.6,
                 "test_accuracy": 0.4},
            ],
        }
    )  # fmt: skip
    lines = text.splitlines()
    assert lines[:3] == ["final_loss: 1.2346", "probe.test_accuracy: 0.5000", "probe.n: 3"]
    assert lines[3] == "baselines:"
    assert lines[4].split() == ["random", "context", "train", "0.6000", "test", "0.4000"]


def test_resume_from_a_checkpoint_that_runs_code_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "MARKER"
    evil = unsafe_checkpoint(tmp_path / "evil.ckpt", marker)
    code, out, err = run(*train_args(tmp_path / "run", "--resume", str(evil)))
    assert code == 1, out + err
    assert err.startswith(f"error: train.resume: refusing to load '{evil}': it is not a plain ")
    assert len(err.splitlines()) == 1 and not marker.exists()


def test_resume_auto_passes_over_a_checkpoint_that_runs_code(tmp_path: Path) -> None:
    out = tmp_path / "run"
    code, _ = train_in_process(out, "--epochs", "1")
    assert code == 0
    good = newest_valid_checkpoint(out / "checkpoints")
    assert good is not None
    marker = tmp_path / "MARKER"
    unsafe_checkpoint(out / "checkpoints" / "step99999999.ckpt", marker)
    code, printed = train_in_process(out, "--epochs", "2", "--resume", "auto")
    assert code == 0
    assert f"resume: from {good} (step {checkpoint_step(good)})" in printed
    assert "checkpoints: 1 that do not load (step99999999.ckpt...) moved to" in printed
    assert (out / "checkpoints" / "unreadable" / "step99999999.ckpt").is_file()
    assert not marker.exists()
