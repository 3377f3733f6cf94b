"""A folder's files as rows to embed: finding, labels from names, decoding, too-short clips."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from cpckit.config import default_conv_layers
from cpckit.data.folder_files import find_files, parse_file_labels
from cpckit.data.rows import AudioRows, ImageRows, open_folder
from cpckit.encoders.audio import ConvEncoder
from cpckit.errors import CpckitError, DataError

WriteAudio = Callable[..., Path]


def test_find_files_prefers_wav_flac_ogg_and_reports_the_flag(
    tmp_path: Path, write_audio: WriteAudio
):
    write_audio(tmp_path / "a" / "x.aiff", format="AIFF")
    assert find_files(tmp_path, "audio") == ["a/x.aiff"]  # no wav/flac/ogg: any readable format
    write_audio(tmp_path / "b" / "y.wav")
    write_audio(tmp_path / ".hidden" / "z.wav")
    assert find_files(tmp_path, "audio") == ["b/y.wav"]
    with pytest.raises(DataError, match=r"^--audio-root .*nope does not exist$"):
        find_files(tmp_path / "nope", "audio")
    with pytest.raises(DataError, match=r"^no image files \(png, jpg, .*\) under --image-root "):
        find_files(tmp_path, "image")


def test_parse_file_labels_takes_every_group_and_the_folder():
    paths = ["spk1/0_ann_0.wav", "spk2/1_bob_3.wav", "spk2/notes_0.wav"]
    with pytest.warns(UserWarning, match=r"1 of 3 files in DIR do not match --label-regex '"):
        parsed = parse_file_labels(
            paths, r"(?P<digit>\d)_(?P<speaker>[a-z]+)_\d\.wav", source="DIR"
        )
    assert parsed.paths == paths[:2] and parsed.unmatched == paths[2:]
    assert parsed.values == {
        "digit": ["0", "1"],
        "speaker": ["ann", "bob"],
        "folder": ["spk1", "spk2"],
    }
    assert parse_file_labels(["a.wav", "b/c.wav"], None).values == {}  # not all in folders


@pytest.mark.parametrize(
    ("regex", "message"),
    [
        ("(?P<x>", r"^--label-regex '\(\?P<x>' is not a valid regex: "),
        (r"\d\.wav", r"^--label-regex '\\d\\.wav' has no named group"),
        ("(?P<paths>.*)", r"^--label-regex group 'paths' would overwrite an array"),
        (r"(?P<d>\d)_nomatch", r"^no file of the 2 in the folder matches --label-regex "),
    ],
)
def test_parse_file_labels_errors(regex: str, message: str):
    with pytest.raises(DataError, match=message):
        parse_file_labels(["0_a.wav", "1_b.wav"], regex)


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
