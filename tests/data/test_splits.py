"""Splits by ratio, by group and by list files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cpckit.data.splits import read_list_file, split_by_group, split_by_lists, split_by_ratio
from cpckit.errors import ConfigError, DataError


def test_ratio_split_sizes_disjoint_and_seeded():
    s = split_by_ratio(100, val_fraction=0.1, test_fraction=0.2, seed=3)
    assert s.sizes() == {"train": 70, "val": 10, "test": 20}
    everything = np.concatenate([s.train, s.val, s.test])
    assert sorted(everything.tolist()) == list(range(100))
    again = split_by_ratio(100, val_fraction=0.1, test_fraction=0.2, seed=3)
    other = split_by_ratio(100, val_fraction=0.1, test_fraction=0.2, seed=4)
    assert np.array_equal(s.test, again.test) and not np.array_equal(s.test, other.test)


def test_ratio_split_empty_test_split_is_an_error():
    with pytest.raises(DataError) as err:
        split_by_ratio(4, test_fraction=0.1)
    assert str(err.value) == (
        "data.test_fraction = 0.1 of 4 examples leaves the probe-test split empty: "
        "raise data.test_fraction to >= 0.125 (one example) or add data"
    )


def test_ratio_split_bad_fractions():
    with pytest.raises(ConfigError, match=r"^data.test_fraction = 1.5 must be in \[0, 1\)$"):
        split_by_ratio(10, test_fraction=1.5)
    with pytest.raises(ConfigError, match="leaves nothing to train on"):
        split_by_ratio(10, val_fraction=0.5, test_fraction=0.5)


def test_group_split_never_shares_a_group():
    rng = np.random.default_rng(0)
    groups = rng.integers(0, 10, size=300)
    s = split_by_group(groups, val_fraction=0.2, test_fraction=0.3, seed=1)
    g_train, g_val, g_test = (set(groups[idx].tolist()) for idx in (s.train, s.val, s.test))
    assert not (g_train & g_val) and not (g_train & g_test) and not (g_val & g_test)
    assert (len(g_val), len(g_test)) == (2, 3)
    assert len(s.train) + len(s.val) + len(s.test) == 300


def test_group_split_with_named_test_groups():
    groups = np.array([0, 1, 2, 0, 1, 2, 3])
    s = split_by_group(
        groups, test_groups=["cy"], group_names=["ann", "bob", "cy", "dan"], val_fraction=0.0
    )
    assert s.test.tolist() == [2, 5] and s.val.tolist() == []
    assert s.train.tolist() == [0, 1, 3, 4, 6]
    with pytest.raises(DataError, match=r"^test_groups: 'eve' is not a group; valid: ann, bob"):
        split_by_group(groups, test_groups=["eve"], group_names=["ann", "bob", "cy", "dan"])


def test_group_split_errors():
    with pytest.raises(DataError) as err:
        split_by_group(np.array([0, 1, -1]))
    assert str(err.value) == (
        "split by group needs a group for every example, but 1 of 3 have none (group -1): "
        "set data.group_key"
    )
    with pytest.raises(DataError, match=r"0.1 of 3 groups leaves the probe-test split empty"):
        split_by_group(np.array([0, 1, 2]), test_fraction=0.1)
    with pytest.raises(DataError, match="leave the train split empty"):
        split_by_group(np.array([0, 1]), val_fraction=0.5, test_fraction=0.4)


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_list_file_split(tmp_path: Path):
    paths = ["a/1.wav", "a/2.wav", "b/3.wav", "b/4.wav", "c/5.wav"]
    train = _write(tmp_path / "train.txt", ["# train files", "a/1.wav", "./a/2.wav", "", "b/3.wav"])
    val = _write(tmp_path / "val.txt", ["b/4.wav"])
    test = _write(tmp_path / "test.txt", ["c\\5.wav"])
    s = split_by_lists(paths, train=train, val=val, test=test)
    assert (s.train.tolist(), s.val.tolist(), s.test.tolist()) == ([0, 1, 2], [3], [4])
    assert read_list_file(train) == [(2, "a/1.wav"), (3, "a/2.wav"), (5, "b/3.wav")]


def test_list_file_naming_a_missing_file_gives_file_and_line(tmp_path: Path):
    train = _write(tmp_path / "train.txt", ["a/1.wav", "a/9.wav"])
    test = _write(tmp_path / "test.txt", ["a/2.wav"])
    with pytest.raises(DataError) as err:
        split_by_lists(["a/1.wav", "a/2.wav"], train=train, test=test, root=tmp_path)
    assert str(err.value) == f"{train}:2: 'a/9.wav' is not under {tmp_path}"


def test_list_file_naming_a_left_out_file(tmp_path: Path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "bad.wav").write_bytes(b"x")
    train = _write(tmp_path / "train.txt", ["a/bad.wav"])
    test = _write(tmp_path / "test.txt", ["a/1.wav"])
    with pytest.raises(DataError, match=r"train.txt:1: 'a/bad.wav' was left out of the dataset"):
        split_by_lists(["a/1.wav"], train=train, test=test, root=tmp_path)


def test_list_files_that_overlap_or_are_empty(tmp_path: Path):
    paths = ["1.wav", "2.wav"]
    train = _write(tmp_path / "train.txt", ["1.wav", "2.wav"])
    test = _write(tmp_path / "test.txt", ["2.wav"])
    with pytest.raises(DataError) as err:
        split_by_lists(paths, train=train, test=test)
    assert str(err.value) == f"{test}:1: '2.wav' is also in the train list"
    empty = _write(tmp_path / "empty.txt", ["# nothing"])
    with pytest.raises(DataError, match=r"^split list .*empty.txt names no files$"):
        split_by_lists(paths, train=train, test=empty)
    with pytest.raises(DataError, match=r"^split list .*nope.txt does not exist$"):
        split_by_lists(paths, train=train, test=tmp_path / "nope.txt")
