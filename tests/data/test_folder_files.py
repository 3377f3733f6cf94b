"""A folder's files: finding them by kind, labels from their names and folders."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from cpckit.data.folder_files import find_files, parse_file_labels
from cpckit.errors import DataError

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
