"""Label parsing from file names and folders."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from cpckit.data.audio import AudioFolderDataset
from cpckit.data.labels import (
    NAME_PATTERNS,
    compile_label_regex,
    encode_labels,
    parse_names,
    sort_names,
)
from cpckit.errors import ConfigError, DataError


def test_fsdd_names_give_digit_labels_and_speaker_groups():
    parsed = parse_names(
        ["7_jackson_32.wav", "0_nicolas_1.wav", "7_george_0.wav"],
        label_regex=NAME_PATTERNS["fsdd"],
        label_key="digit",
        group_key="speaker",
    )
    assert parsed.label_values == ["7", "0", "7"]
    assert parsed.group_values == ["jackson", "nicolas", "george"]
    assert parsed.unmatched == []


def test_digit_word_names_like_7seven00032():
    parsed = parse_names(
        ["7seven00032.wav", "sub/3three00001.wav"],
        label_regex=NAME_PATTERNS["digit_word"],
        label_key="word",
        group_key="digit",
    )
    assert parsed.label_values == ["seven", "three"] and parsed.group_values == ["7", "3"]


def test_any_group_can_be_the_label_or_the_group():
    names = ["1_ann_0.wav", "2_bob_0.wav"]
    swapped = parse_names(
        names, label_regex=NAME_PATTERNS["fsdd"], label_key="speaker", group_key="digit"
    )
    assert swapped.label_values == ["ann", "bob"] and swapped.group_values == ["1", "2"]


def test_folder_labels_from_the_parent_folder_and_loose_files_are_unmatched():
    with pytest.warns(UserWarning, match=r"1 of 3 files in the dataset are not in a class folder"):
        parsed = parse_names(["cat/a.wav", "dog/x/b.wav", "c.wav"], label_from="folder")
    assert parsed.paths == ["cat/a.wav", "dog/x/b.wav"]
    assert parsed.label_values == ["cat", "x"] and parsed.unmatched == ["c.wav"]


def test_folder_key_can_be_the_group_with_a_name_label():
    parsed = parse_names(
        ["spk1/3_a_0.wav", "spk2/4_b_1.wav"],
        label_regex=NAME_PATTERNS["fsdd"],
        label_key="digit",
        group_key="folder",
    )
    assert parsed.group_values == ["spk1", "spk2"] and parsed.label_values == ["3", "4"]


def test_unmatched_names_are_warned_counted_and_left_out():
    names = ["1_ann_0.wav", "readme.wav", "x_ann_0.wav", "2_bob_1.wav"]
    with pytest.warns(UserWarning) as record:
        parsed = parse_names(
            names, label_regex=NAME_PATTERNS["fsdd"], label_key="digit", source="/data/x"
        )
    assert str(record[0].message) == (
        r"2 of 4 files in /data/x do not match label_regex "
        r"'(?P<digit>\d)_(?P<speaker>[a-z]+)_\d+\.wav' and are left out: readme.wav, x_ann_0.wav"
    )
    assert parsed.paths == ["1_ann_0.wav", "2_bob_1.wav"]
    assert parsed.unmatched == ["readme.wav", "x_ann_0.wav"]


def test_unmatched_files_are_excluded_from_the_dataset(
    fsdd_folder: Path, write_audio: Callable[..., Path]
):
    write_audio(fsdd_folder / "noise.wav", 0.3)
    with pytest.warns(UserWarning, match="1 of 19 files"):
        ds = AudioFolderDataset(
            fsdd_folder, 8000, label_regex=NAME_PATTERNS["fsdd"], label_key="digit"
        )
    assert ds.unmatched == ["noise.wav"] and "noise.wav" not in ds.paths and len(ds) == 18


def test_encode_labels_is_sorted_contiguous_and_numeric_for_integers():
    codes, names = encode_labels(["b", "a", "c", "a"])
    assert names == ["a", "b", "c"] and codes.tolist() == [1, 0, 2, 0]
    assert codes.dtype == np.int64
    assert sort_names(["10", "9", "100", "9"]) == ["9", "10", "100"]
    assert sort_names(["10", "9a"]) == ["10", "9a"]


def test_bad_regex_and_bad_group_messages():
    with pytest.raises(DataError, match=r"^label_regex '\(\?P<x>' is not a valid regex: "):
        compile_label_regex("(?P<x>")
    with pytest.raises(DataError) as err:
        compile_label_regex(r"\d+\.wav", [("group_key", "speaker")])
    assert str(err.value) == (
        r"group_key = 'speaker' is not a named group of label_regex '\d+\.wav': "
        "it has no named groups"
    )


def test_key_without_regex_and_conflicting_label_from():
    with pytest.raises(DataError, match=r"^label_key = 'digit' needs label_regex"):
        parse_names(["a.wav"], label_key="digit")
    with pytest.raises(ConfigError, match=r"^label_from = 'path' is not valid"):
        parse_names(["a.wav"], label_from="path")
    with pytest.raises(ConfigError, match=r"^label_from = 'folder' takes the label"):
        parse_names(["c/a.wav"], label_from="folder", label_key="digit")
