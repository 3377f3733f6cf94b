"""Shared pieces of the embed / evaluate / finetune / report command tests.

Tiny untrained models saved as run folders, tiny wav and png folders
written here, and an in-process runner of ``cpckit`` that registers the
evaluation subcommands.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from PIL import Image

COMMANDS = ("embed", "evaluate", "finetune", "report")
REGEX = r"(?P<digit>\d)_(?P<speaker>[a-z]+)_\d+\.wav"
SPEAKERS = ("ann", "bob", "cid")

AUDIO = [
    "model.z_dim=16",
    "model.c_dim=16",
    "model.prediction_steps=3",
    "data.full_duration=0.08",
]
ENCODERS = {
    "conv": [
        "audio_encoder.kind=conv",
        "audio_encoder.conv_layers=[[1,16,10,5,3,1],[16,16,8,4,2,1]]",
    ],
    "mel": [
        "audio_encoder.kind=mel",
        "audio_encoder.mel_channels=16",
        "audio_encoder.mel_layers=2",
    ],
}
IMAGE = [
    "data.modality=image",
    "data.image_size=16",
    "model.z_dim=16",
    "model.c_dim=16",
    "model.prediction_steps=2",
    "image_encoder.width=8",
    "image_encoder.depth=1",
]


def make_run(folder: Path, kind: str = "conv", seed: int = 0) -> Path:
    """A run folder holding an untrained tiny model (``kind``: conv, mel or image)."""
    from cpckit.build import build_model
    from cpckit.config import load_config
    from cpckit.training.run_folder import save_model

    overrides = IMAGE if kind == "image" else AUDIO + ENCODERS[kind]
    cfg = load_config(None, overrides, {})
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = build_model(cfg)
    folder.mkdir(parents=True, exist_ok=True)
    save_model(model, cfg, folder / "cpc_model.pth")
    return folder


def tone(n: int, freq: float, rate: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(n) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t) + 0.05 * rng.standard_normal(n)).astype(np.float32)


def write_wavs(
    root: Path, per_speaker: int = 3, seed: int = 0, speakers: tuple[str, ...] = SPEAKERS
) -> list[str]:
    """``root/<speaker>/<digit>_<speaker>_<k>.wav``: digit 0 a low tone, 1 a high one.

    Lengths differ (0.04 to 0.19 s); one file is at 8 kHz and one is stereo,
    so resampling and mixing down are exercised. Returns the relative paths, sorted.
    """
    rng = np.random.default_rng(seed)
    paths = []
    for spk in speakers:
        for digit in (0, 1):
            for k in range(per_speaker):
                rate = 8000 if (spk, digit, k) == (speakers[0], 1, 0) else 16000
                n = int(rng.integers(640, 3000)) * rate // 16000
                wave = tone(n, (250 if digit == 0 else 1500) * (1 + 0.05 * k), rate, rng)
                if (spk, digit, k) == (speakers[-1], 0, 1):
                    wave = np.stack([wave, 0.5 * wave], axis=1)
                rel = f"{spk}/{digit}_{spk}_{k}.wav"
                (root / spk).mkdir(parents=True, exist_ok=True)
                sf.write(root / rel, wave, rate)
                paths.append(rel)
    return sorted(paths)


def write_pngs(root: Path, per_class: int = 6, seed: int = 0) -> list[str]:
    """``root/<class>/<name>.png``: dark 'cat' and bright 'dog' noise images of varied sizes."""
    rng = np.random.default_rng(seed)
    paths = []
    for c, name in enumerate(("cat", "dog")):
        (root / name).mkdir(parents=True, exist_ok=True)
        for k in range(per_class):
            side = 16 + 4 * (k % 3)
            arr = (rng.random((side, side + 2, 3)) * 80 + (150 if c else 20)).astype(np.uint8)
            Image.fromarray(arr).save(root / name / f"{name}{k}.png")
            paths.append(f"{name}/{name}{k}.png")
    return sorted(paths)


def run(*args: object) -> tuple[int, str, str]:
    """``cpckit ARGS`` in this process: (exit code, stdout, stderr)."""
    from cpckit import cli

    saved = list(cli.SUBCOMMAND_MODULES)
    cli.SUBCOMMAND_MODULES[:] = saved + [c for c in COMMANDS if c not in saved]
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = cli.main([str(a) for a in args])
            except SystemExit as exc:  # --help, and argparse's own errors
                code = exc.code if isinstance(exc.code, int) else 1
    finally:
        cli.SUBCOMMAND_MODULES[:] = saved
    return code, out.getvalue(), err.getvalue()


def read_wave(path: Path) -> tuple[np.ndarray, int]:
    wave, rate = sf.read(path, dtype="float32", always_2d=True)
    return wave.T, int(rate)  # (channels, samples)


def run_ok(*args: object) -> str:
    """``cpckit ARGS`` in this process, which must exit 0: its stdout."""
    code, out, err = run(*args)
    assert code == 0, out + err
    return out


REPO = Path(__file__).resolve().parents[2]


def console_script(*args: object, unbuffered: bool = False) -> tuple[list[str], dict[str, str]]:
    """The installed ``cpckit`` console script with ``args``, and the environment to run it in.

    The script is the one beside this interpreter (the virtual environment's
    ``bin``), or else the one on PATH; ``PYTHONPATH`` puts this checkout's
    ``src`` first, so the script runs these sources whichever checkout the
    environment was installed from. ``unbuffered``: ``PYTHONUNBUFFERED=1``
    (each write reaches the pipe at once); otherwise stdout is buffered, as
    Python buffers a pipe by default.
    """
    import os
    import shutil
    import sys

    script = Path(sys.executable).parent / "cpckit"
    if not script.is_file():
        found = shutil.which("cpckit")
        assert found is not None, "no cpckit console script: pip install -e ."
        script = Path(found)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO / "src"), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    if unbuffered:
        env["PYTHONUNBUFFERED"] = "1"
    return [str(script), *(str(a) for a in args)], env


def run_script(name: str, *args: object) -> tuple[int, str]:
    """``python <repo>/<name> ARGS`` in this process: (exit code, stdout).

    In-process, so the fixtures that patch cpckit (the known checksums of
    the local archive server) apply, and torch is not imported again.
    """
    import runpy
    import sys

    argv, path = list(sys.argv), list(sys.path)
    out = io.StringIO()
    sys.argv = [name, *(str(a) for a in args)]
    try:
        with contextlib.redirect_stdout(out):
            try:
                runpy.run_path(str(REPO / name), run_name="__main__")
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.argv = argv
        sys.path[:] = path
    return code, out.getvalue()
