"""AudioFolderDataset on small files written here."""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from torch.utils.data import DataLoader

from cpckit.data.audio import AudioFolderDataset
from cpckit.data.audio_files import supported_extensions
from cpckit.data.collate import collate
from cpckit.data.labels import NAME_PATTERNS
from cpckit.errors import ConfigError, DataError

WriteAudio = Callable[..., Path]


def _peak_hz(x: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / rate)[spectrum.argmax()])


def test_ogg_file_is_read_when_soundfile_writes_it(tmp_path: Path, write_audio: WriteAudio):
    write_audio(tmp_path / "a.ogg", seconds=0.5, rate=22050, format="OGG", subtype="VORBIS")
    ds = AudioFolderDataset(tmp_path, 16000)
    assert ds.paths == ["a.ogg"]
    assert ds.lengths.tolist() == [8000]
    assert _peak_hz(ds.clip(0), 16000) == pytest.approx(440.0, abs=2.0)


def test_items_follow_the_contract_with_whole_clips(fsdd_folder: Path):
    ds = AudioFolderDataset(
        fsdd_folder,
        16000,
        label_regex=NAME_PATTERNS["fsdd"],
        label_key="digit",
        group_key="speaker",
    )
    assert len(ds) == 18
    item = ds[0]
    assert set(item) == {"audio", "audio_length", "label", "group"}
    assert item["audio"].dtype == torch.float32 and item["audio"].shape == (1, ds.lengths[0])
    for key in ("audio_length", "label", "group"):
        assert item[key].dtype == torch.int64 and item[key].dim() == 0
    assert ds.paths[0] == "0_ann_0.wav" and int(item["audio_length"]) == 4000  # 0.25 s at 16 kHz
    assert ds.label_names == ["0", "1", "2"] and ds.group_names == ["ann", "bob", "cy"]
    assert ds.labels.tolist() == [int(p[0]) for p in ds.paths]
    assert ds.groups.tolist() == [["ann", "bob", "cy"].index(p.split("_")[1]) for p in ds.paths]


def test_without_labels_label_and_group_are_minus_one(fsdd_folder: Path):
    ds = AudioFolderDataset(fsdd_folder, 8000, cache=False)
    assert ds.label_names == [] and int(ds[3]["label"]) == -1 and int(ds[3]["group"]) == -1


def test_window_pads_short_clips_and_reports_valid_length(fsdd_folder: Path):
    ds = AudioFolderDataset(fsdd_folder, 16000, window_samples=6000)
    i = ds.paths.index("0_ann_0.wav")  # 4000 samples at 16 kHz
    item = ds[i]
    assert item["audio"].shape == (1, 6000) and int(item["audio_length"]) == 4000
    assert torch.all(item["audio"][0, 4000:] == 0)
    np.testing.assert_array_equal(item["audio"][0, :4000].numpy(), ds.clip(i))


def test_window_crops_long_clips_to_a_slice_of_the_clip(fsdd_folder: Path):
    ds = AudioFolderDataset(fsdd_folder, 16000, window_samples=3000)
    clip = ds.clip(5)
    crop = ds[5]["audio"][0].numpy()
    assert crop.shape == (3000,) and int(ds[5]["audio_length"]) == 3000
    starts = [s for s in range(len(clip) - 2999) if np.array_equal(clip[s : s + 3000], crop)]
    assert starts, "the crop is not a contiguous slice of the clip"


def test_crops_are_random_per_call_and_reproducible_for_a_seed(fsdd_folder: Path):
    def crops(seed: int) -> list[np.ndarray]:
        ds = AudioFolderDataset(fsdd_folder, 16000, window_samples=1000, seed=seed)
        return [ds[17]["audio"].numpy() for _ in range(6)]

    a, b, c = crops(1), crops(1), crops(2)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert len({x.tobytes() for x in a}) > 1  # not the same offset every call
    assert any(not np.array_equal(x, y) for x, y in zip(a, c))


def test_drop_mode_removes_short_clips_and_lists_them(fsdd_folder: Path):
    # lengths at 8 kHz: 0.25 + 0.05 * (d + s + take) s -> 2000 .. 4000 samples
    ds = AudioFolderDataset(fsdd_folder, 8000, window_samples=3000, short_clips="drop")
    full = AudioFolderDataset(fsdd_folder, 8000)
    short = sorted(p for p, n in zip(full.paths, full.lengths) if n < 3000)
    assert sorted(ds.dropped) == short and len(short) == 9  # d + s + take <= 2
    assert len(ds) == 9 and (ds.lengths >= 3000).all()
    assert ds.summary()["dropped (shorter than the window)"] == 9


def test_drop_mode_with_every_clip_too_short_is_an_error(fsdd_folder: Path):
    with pytest.raises(
        DataError, match="all 18 clips under .* are shorter than the window of 16000"
    ):
        AudioFolderDataset(fsdd_folder, 8000, window_samples=16000, short_clips="drop")


def test_cache_gives_the_same_items_as_lazy_decoding(fsdd_folder: Path):
    lazy = AudioFolderDataset(fsdd_folder, 16000, cache=False, normalize=True)
    cached = AudioFolderDataset(fsdd_folder, 16000, cache=True, normalize=True)
    assert cached.cached and not lazy.cached
    np.testing.assert_array_equal(lazy.lengths, cached.lengths)
    for i in (0, 7, 17):
        np.testing.assert_allclose(lazy[i]["audio"], cached[i]["audio"], atol=1e-6)
    assert abs(float(cached.clip(3).mean())) < 1e-5


def test_cached_clips_are_not_changed_through_items(fsdd_folder: Path):
    ds = AudioFolderDataset(fsdd_folder, 8000, cache=True)
    before = ds.clip(0).copy()
    ds[0]["audio"].fill_(9.0)
    np.testing.assert_array_equal(ds.clip(0), before)


def test_cached_dataset_reads_no_file_after_construction(fsdd_folder: Path, tmp_path: Path):
    ds = AudioFolderDataset(fsdd_folder, 16000, cache=True, window_samples=2000)
    moved = tmp_path / "moved"
    os.rename(fsdd_folder, moved)
    batch = collate([ds[i] for i in range(len(ds))])
    assert batch["audio"].shape == (18, 1, 2000)


def test_corrupt_file_is_skipped_with_a_warning_naming_it(fsdd_folder: Path):
    bad = fsdd_folder / "1_bob_9.wav"
    bad.write_bytes(np.random.default_rng(0).bytes(2000))
    empty = fsdd_folder / "2_bob_9.wav"
    empty.write_bytes(b"")
    with pytest.warns(UserWarning) as record:
        ds = AudioFolderDataset(
            fsdd_folder, 8000, label_regex=NAME_PATTERNS["fsdd"], label_key="digit"
        )
    messages = [str(w.message) for w in record]
    assert any(m.startswith(f"skipping unreadable audio file {bad}") for m in messages)
    assert any(m.startswith(f"skipping unreadable audio file {empty}") for m in messages)
    assert ds.skipped == ["1_bob_9.wav", "2_bob_9.wav"] and len(ds) == 18
    assert ds.summary()["skipped (unreadable or not finite)"] == 2


def test_folder_of_only_corrupt_files_is_an_error(tmp_path: Path):
    (tmp_path / "x.wav").write_bytes(b"RIFF....garbage")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(DataError, match=r"none of the 1 audio files under .* could be read"):
            AudioFolderDataset(tmp_path, 16000)


def _nan_wav(path: Path, rate: int = 8000) -> Path:
    wave = np.full(2000, 0.1, dtype=np.float32)
    wave[500] = np.nan
    sf.write(path, wave, rate, subtype="FLOAT")
    return path


def test_nan_file_is_skipped_and_counted_like_a_corrupt_one(fsdd_folder: Path):
    bad = _nan_wav(fsdd_folder / "1_bob_9.wav")
    with pytest.warns(UserWarning) as record:
        ds = AudioFolderDataset(
            fsdd_folder, 8000, label_regex=NAME_PATTERNS["fsdd"], label_key="digit"
        )
    messages = [str(w.message) for w in record]
    warning = (
        f"skipping audio file {bad}: it holds 1 NaN sample value(s) of 2000 (the first in frame "
        "500, at 0.0625 s); only finite samples can be trained on: repair or re-export the file, "
        "or remove it"
    )
    assert warning in messages
    assert ds.skipped == ["1_bob_9.wav"] and len(ds) == 18 and "1_bob_9.wav" not in ds.paths
    assert ds.summary()["skipped (unreadable or not finite)"] == 1


def test_folder_of_only_nan_files_is_the_no_usable_file_error(tmp_path: Path):
    _nan_wav(tmp_path / "a.wav")
    _nan_wav(tmp_path / "b.wav")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(DataError) as err:
            AudioFolderDataset(tmp_path, 8000)
    assert str(err.value) == (
        f"none of the 2 audio files under {tmp_path} could be read (unreadable, empty, or "
        "holding NaN or infinite samples; e.g. a.wav): see the warnings above"
    )


def test_lazy_decoding_of_a_nan_file_is_an_error_naming_it(fsdd_folder: Path):
    ds = AudioFolderDataset(fsdd_folder, 8000, cache=False)
    bad = _nan_wav(fsdd_folder / ds.paths[0])
    with pytest.raises(DataError, match=re.escape(f"audio file {bad} holds 1 NaN sample")):
        ds[0]


def test_empty_folder_error_message(tmp_path: Path):
    with pytest.raises(DataError) as err:
        AudioFolderDataset(tmp_path, 16000)
    assert str(err.value) == f"no audio files (wav, flac, ogg) under {tmp_path}"


def test_missing_root_error_message(tmp_path: Path):
    with pytest.raises(DataError) as err:
        AudioFolderDataset(tmp_path / "nope", 16000)
    assert str(err.value) == f"audio root {tmp_path / 'nope'} does not exist"


def test_unknown_extension_error_message(fsdd_folder: Path):
    with pytest.raises(DataError) as err:
        AudioFolderDataset(fsdd_folder, 16000, extensions=("wav", "mp4"))
    assert str(err.value) == (
        "extensions: 'mp4' is not an audio format soundfile can read; "
        f"valid: {', '.join(supported_extensions())}"
    )
    assert {"wav", "flac", "ogg"} <= set(supported_extensions())


def test_regex_group_that_does_not_exist_error_message(fsdd_folder: Path):
    with pytest.raises(DataError) as err:
        AudioFolderDataset(fsdd_folder, 16000, label_regex=NAME_PATTERNS["fsdd"], label_key="spk")
    assert str(err.value) == (
        r"label_key = 'spk' is not a named group of label_regex "
        r"'(?P<digit>\d)_(?P<speaker>[a-z]+)_\d+\.wav': its groups are digit, speaker"
    )


def test_regex_matching_no_file_error(fsdd_folder: Path):
    with pytest.raises(DataError, match=re.escape("no file of the 18 in")):
        AudioFolderDataset(fsdd_folder, 16000, label_regex=r"(?P<x>\d+)\.flac", label_key="x")


def test_bad_arguments_raise_config_errors(fsdd_folder: Path):
    with pytest.raises(
        ConfigError, match="short_clips = 'cut' is not valid: expected 'pad' or 'drop'"
    ):
        AudioFolderDataset(fsdd_folder, 16000, window_samples=100, short_clips="cut")
    with pytest.raises(ConfigError, match="window_samples = 0 must be a positive"):
        AudioFolderDataset(fsdd_folder, 16000, window_samples=0)
    with pytest.raises(ConfigError, match="sample_rate = 0 must be a positive"):
        AudioFolderDataset(fsdd_folder, 0)


def test_explicit_files_list_and_missing_file(fsdd_folder: Path):
    ds = AudioFolderDataset(fsdd_folder, 8000, files=["1_bob_0.wav", fsdd_folder / "0_ann_1.wav"])
    assert ds.paths == ["1_bob_0.wav", "0_ann_1.wav"]
    with pytest.raises(DataError) as err:
        AudioFolderDataset(fsdd_folder, 8000, files=["9_zed_0.wav"])
    assert str(err.value) == f"files: '9_zed_0.wav' does not exist under {fsdd_folder}"


def test_subset_and_with_window_share_the_cache_and_label_mapping(fsdd_folder: Path):
    ds = AudioFolderDataset(
        fsdd_folder,
        16000,
        label_regex=NAME_PATTERNS["fsdd"],
        label_key="digit",
        window_samples=1000,
    )
    sub = ds.subset([17, 0, 5])
    assert sub.paths == [ds.paths[17], ds.paths[0], ds.paths[5]]
    assert sub.labels.tolist() == ds.labels[[17, 0, 5]].tolist()
    assert sub.label_names == ds.label_names and sub._flat is ds._flat
    whole = sub.with_window(None)
    assert whole[0]["audio"].shape == (1, ds.lengths[17]) and sub[0]["audio"].shape == (1, 1000)
    np.testing.assert_array_equal(whole[1]["audio"][0].numpy(), ds.clip(0))


def test_lazy_decoding_error_names_the_file(fsdd_folder: Path):
    ds = AudioFolderDataset(fsdd_folder, 8000, cache=False)
    (fsdd_folder / ds.paths[0]).write_bytes(b"not audio any more")
    with pytest.raises(DataError, match=re.escape(f"could not decode audio file {fsdd_folder}")):
        ds[0]


def test_loader_with_a_worker_gives_padded_batches(fsdd_folder: Path):
    ds = AudioFolderDataset(fsdd_folder, 16000, cache=True)
    loader = DataLoader(ds, batch_size=6, num_workers=1, collate_fn=collate)
    batches = list(loader)
    assert len(batches) == 3
    b = batches[0]
    assert b["audio"].shape == (6, 1, int(ds.lengths[:6].max()))
    assert b["audio_length"].tolist() == ds.lengths[:6].tolist()


def test_worker_crops_are_reproducible_for_a_seeded_loader(fsdd_folder: Path):
    ds = AudioFolderDataset(fsdd_folder, 16000, window_samples=1000, cache=True, seed=5)

    def epoch(loader_seed: int) -> torch.Tensor:
        gen = torch.Generator()
        gen.manual_seed(loader_seed)
        loader = DataLoader(ds, batch_size=18, num_workers=1, collate_fn=collate, generator=gen)
        return next(iter(loader))["audio"]

    a, b, c = epoch(0), epoch(0), epoch(1)
    assert torch.equal(a, b) and not torch.equal(a, c)
