"""LibriSpeech layout and alignment files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from cpckit.data.librispeech import (
    LibriSpeechDataset,
    alignment_vocabulary,
    latent_frame_labels,
    read_alignments,
)
from cpckit.errors import ConfigError, DataError


@pytest.fixture
def libri_root(tmp_path: Path, write_audio: Callable[..., Path]) -> Path:
    root = tmp_path / "LibriSpeech"
    for subset, utts in (
        ("dev-clean", ["19-198-0001", "19-198-0002", "19-201-0000", "84-121-0003"]),
        ("test-clean", ["61-70968-0000"]),
    ):
        for utt in utts:
            spk, ch, _ = utt.split("-")
            write_audio(root / subset / spk / ch / f"{utt}.flac", seconds=0.2, rate=16000)
    return root


def test_speaker_labels_and_chapter_groups(libri_root: Path):
    ds = LibriSpeechDataset(libri_root, subsets=["dev-clean"], group_key="chapter")
    assert ds.utterance_ids == ["19-198-0001", "19-198-0002", "19-201-0000", "84-121-0003"]
    assert ds.label_names == ["19", "84"] and ds.labels.tolist() == [0, 0, 0, 1]
    assert ds.group_names == ["121", "198", "201"] and ds.groups.tolist() == [1, 1, 2, 0]
    assert ds.speaker_ids == ["19", "19", "19", "84"] and ds.chapter_ids[2] == "201"
    assert ds[0]["audio"].shape == (1, 3200)


def test_all_subsets_when_none_chosen_and_missing_subset(libri_root: Path):
    assert len(LibriSpeechDataset(libri_root)) == 5
    with pytest.raises(DataError) as err:
        LibriSpeechDataset(libri_root, subsets=["train-clean-100"])
    assert str(err.value) == (
        f"subset 'train-clean-100' is not under {libri_root} (found: dev-clean, test-clean); "
        "run `cpckit prepare librispeech --subsets train-clean-100`"
    )


def test_files_outside_the_layout_are_left_out(libri_root: Path, write_audio: Callable[..., Path]):
    write_audio(libri_root / "dev-clean" / "19" / "999" / "19-198-0009.flac", 0.2, 16000)
    with pytest.warns(
        UserWarning, match=r"1 of 6 .flac files .* are not in the LibriSpeech layout"
    ):
        ds = LibriSpeechDataset(libri_root)
    assert "dev-clean/19/999/19-198-0009.flac" not in ds.paths and len(ds) == 5


def test_bad_label_key():
    with pytest.raises(ConfigError, match="label_key = 'book' is not valid for LibriSpeech"):
        LibriSpeechDataset("/nowhere", label_key="book")


def test_read_integer_alignments(tmp_path: Path):
    path = tmp_path / "align.txt"
    path.write_text("19-198-0001 0 0 3 3 3 1\n\n84-121-0003 2 2 -1\n", encoding="utf-8")
    out = read_alignments(path)
    assert list(out) == ["19-198-0001", "84-121-0003"]
    assert out["19-198-0001"].tolist() == [0, 0, 3, 3, 3, 1]
    assert out["84-121-0003"].dtype == np.int64 and out["84-121-0003"].tolist() == [2, 2, -1]


def test_read_string_alignments_with_a_vocabulary(tmp_path: Path):
    path = tmp_path / "phones.txt"
    path.write_text("u1 sil sil AH B\nu2 B sil\n", encoding="utf-8")
    vocab = alignment_vocabulary(path)
    assert vocab == ["AH", "B", "sil"]
    out = read_alignments(path, vocabulary=vocab)
    assert out["u1"].tolist() == [2, 2, 0, 1] and out["u2"].tolist() == [1, 2]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("u1 0 1\nu2\n", "{path}:2: utterance 'u2' has no frame labels"),
        (
            "u1 0 1\n\nu2 0 AH 1\n",
            "{path}:3: frame label 'AH' is not an integer; pass "
            "vocabulary=alignment_vocabulary(path) to read string labels",
        ),
        ("u1 0 1\nu1 1 1\n", "{path}:2: utterance 'u1' appears a second time"),
        ("\n\n", "alignment file {path} holds no utterances"),
    ],
)
def test_malformed_alignment_lines(tmp_path: Path, text: str, message: str):
    path = tmp_path / "bad.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError) as err:
        read_alignments(path)
    assert str(err.value) == message.format(path=path)


def test_alignment_label_not_in_vocabulary(tmp_path: Path):
    path = tmp_path / "a.txt"
    path.write_text("u1 AH ZZ\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"a.txt:1: frame label 'ZZ' is not in the vocabulary"):
        read_alignments(path, vocabulary=["AH"])


def test_latent_frame_labels_at_10ms_and_beyond_the_alignment():
    frames = np.array([5, 6, 7, 8])
    assert latent_frame_labels(frames, 6, 160, 16000).tolist() == [5, 6, 7, 8, -1, -1]
    assert latent_frame_labels(frames, 4, 320, 16000).tolist() == [5, 7, -1, -1]
