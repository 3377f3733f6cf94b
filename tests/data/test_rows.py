"""A folder's files as rows to embed: decoding, windows, too-short clips, unreadable images."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from cpckit.config import default_conv_layers
from cpckit.data.rows import AudioRows, ImageRows, open_folder
from cpckit.encoders.audio import ConvEncoder
from cpckit.errors import CpckitError

WriteAudio = Callable[..., Path]


def test_open_folder_windows_and_too_short_clips(tmp_path: Path, write_audio: WriteAudio):
    write_audio(tmp_path / "long.wav", seconds=0.5, rate=16000)
    write_audio(tmp_path / "short.wav", seconds=0.1, rate=16000)
    write_audio(tmp_path / "tiny.wav", seconds=0.001, rate=16000)
    encoder = ConvEncoder(default_conv_layers(8), z_dim=8)
    with pytest.warns(UserWarning) as record:
        data = open_folder(
            tmp_path, "audio", encoder=encoder, windows_per_file=3, window_seconds=0.2, seed=1
        )
    messages = [str(w.message) for w in record]
    assert any("too short for one latent step" in m and "tiny.wav" in m for m in messages)
    assert any("shorter than the 0.2 s window and are embedded whole" in m for m in messages)
    assert data.paths == ["long.wav", "short.wav"] and data.skipped == ["tiny.wav (too short)"]
    assert isinstance(data.rows, AudioRows) and len(data.rows) == 4
    assert data.file_index.tolist() == [0, 0, 0, 1]
    assert data.window_length.tolist() == [3200, 3200, 3200, 1600]
    assert data.rows[0]["audio"].shape == (1, 3200)
    with pytest.raises(CpckitError, match="give --windows-per-file and --window-seconds together"):
        open_folder(tmp_path, "audio", windows_per_file=2)


def test_open_folder_names_nan_files_apart_from_unreadable_ones(
    tmp_path: Path, write_audio: WriteAudio
):
    write_audio(tmp_path / "good.wav", seconds=0.1, rate=16000)
    (tmp_path / "broken.wav").write_bytes(b"RIFF....not a wave")
    sf.write(tmp_path / "nan.wav", np.full(1600, np.nan, dtype=np.float32), 16000, subtype="FLOAT")
    with pytest.warns(UserWarning) as record:
        data = open_folder(tmp_path, "audio")
    messages = [str(w.message) for w in record]
    assert any(
        m.startswith(f"skipping unreadable audio file {tmp_path / 'broken.wav'}") for m in messages
    )
    assert any(
        m.startswith(f"skipping audio file {tmp_path / 'nan.wav'}: it holds 1600 NaN")
        for m in messages
    )
    assert data.paths == ["good.wav"]
    assert data.skipped == ["broken.wav (unreadable)", "nan.wav (not finite)"]


def test_open_folder_images_skips_unreadable_files(tmp_path: Path):
    for cls in ("cat", "dog"):
        (tmp_path / cls).mkdir()
        Image.new("RGB", (20, 12), (200, 10, 10)).save(tmp_path / cls / "a.png")
    (tmp_path / "dog" / "bad.png").write_bytes(b"not a png")
    with pytest.warns(UserWarning, match=r"skipped 1 unreadable images under .*: dog/bad.png"):
        data = open_folder(tmp_path, "image", image_size=8)
    assert data.paths == ["cat/a.png", "dog/a.png"] and data.labels == {"folder": ["cat", "dog"]}
    assert isinstance(data.rows, ImageRows) and data.rows[1]["image"].shape == (3, 8, 8)
    assert data.skipped == ["dog/bad.png (unreadable)"]
