"""Audio + image pairs: synthetic ones (determinism, contract, the class they share) and pairs
read from a CSV (reading, views, clear errors)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from PIL import Image

from cpckit.data.collate import collate
from cpckit.data.image_augment import ImageAugment
from cpckit.data.paired import PairedCSVDataset, PairedSyntheticDataset, tone_bands
from cpckit.data.synthetic_image import make_pattern_image
from cpckit.errors import DataError

SMALL = dict(sample_rate=4000, duration=0.1, image_size=16)


def test_img_paired_items_follow_the_contract() -> None:
    ds = PairedSyntheticDataset(6, n_classes=3, **SMALL)  # type: ignore[arg-type]
    item = ds[4]
    assert set(item) == {"audio", "audio_length", "image", "label", "group"}
    assert item["audio"].shape == (1, 400) and item["audio"].dtype == torch.float32
    assert item["audio_length"].dtype == torch.int64 and int(item["audio_length"]) == 400
    assert item["image"].shape == (3, 16, 16) and item["image"].dtype == torch.float32
    assert item["label"].shape == () and int(item["label"]) == 1
    assert int(item["group"]) == -1
    batch = collate([ds[i] for i in range(4)])
    assert batch["audio"].shape == (4, 1, 400) and batch["image"].shape == (4, 3, 16, 16)
    assert batch["label"].tolist() == [0, 1, 2, 0]


def test_img_paired_item_is_a_pure_function_of_seed_and_index() -> None:
    a = PairedSyntheticDataset(10, seed=3, **SMALL)  # type: ignore[arg-type]
    b = PairedSyntheticDataset(40, seed=3, **SMALL)  # type: ignore[arg-type]
    for i in (7, 2, 7):  # any order, any n, repeated access
        x, y = a[i], b[i]
        assert torch.equal(x["audio"], y["audio"]) and torch.equal(x["image"], y["image"])
    c = PairedSyntheticDataset(10, seed=4, **SMALL)  # type: ignore[arg-type]
    assert not torch.equal(a[2]["audio"], c[2]["audio"])
    assert not torch.equal(a[2]["image"], c[2]["image"])


def test_img_paired_tone_and_pattern_share_the_class() -> None:
    ds = PairedSyntheticDataset(16, n_classes=4, **SMALL)  # type: ignore[arg-type]
    assert ds.labels.tolist() == [i % 4 for i in range(16)]
    for i in range(16):
        k = int(ds.labels[i])
        low, high = ds.bands[k]
        # The audio: its strongest frequency lies in band k.
        wave = ds.waveform(i)
        spectrum = np.abs(np.fft.rfft(wave))
        peak = np.fft.rfftfreq(len(wave), 1 / ds.sample_rate)[int(np.argmax(spectrum))]
        resolution = ds.sample_rate / len(wave)
        assert low - resolution <= peak <= high + resolution, (i, peak, low, high)
        assert low <= ds.freqs[i] <= high
        # The image: pattern k, drawn from the item's own generator.
        expected = make_pattern_image(
            k, np.random.default_rng([ds.seed, i, 1]), 16, noise_std=ds.image_noise_std
        )
        assert np.array_equal(ds.raw_image(i), expected)


def test_img_paired_tone_bands_are_disjoint_and_inside_the_range() -> None:
    bands = tone_bands(3, 150.0, 900.0)
    assert bands.shape == (3, 2)
    assert bands[0, 0] > 150.0 and bands[-1, 1] < 900.0
    assert np.all(bands[:, 0] < bands[:, 1]) and np.all(bands[1:, 0] > bands[:-1, 1])


def test_img_paired_augments_the_image_only() -> None:
    plain = PairedSyntheticDataset(4, **SMALL)  # type: ignore[arg-type]
    aug = PairedSyntheticDataset(4, augment=ImageAugment(seed=0, grayscale_p=1.0), **SMALL)  # type: ignore[arg-type]
    assert torch.equal(plain[1]["audio"], aug[1]["audio"])
    assert not torch.equal(plain[1]["image"], aug[1]["image"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_classes": 9}, "n_classes = 9 is not valid: expected 2 to 8"),
        ({"n_classes": 1}, "n_classes = 1 is not valid"),
        ({"n": 0}, "n = 0 must be >= 1"),
        ({"freq_max": 2500.0}, "below the Nyquist frequency 2000.0 Hz"),
        ({"duration": 0.0}, "duration = 0.0 must be > 0"),
    ],
)
def test_img_paired_rejects_bad_settings(kwargs: dict[str, float], message: str) -> None:
    args = {"n": 4, **SMALL, **kwargs}
    n = int(args.pop("n"))
    with pytest.raises(ValueError, match=message):
        PairedSyntheticDataset(n, **args)  # type: ignore[arg-type]


def _wav(path: Path, seconds: float, rate: int = 8000, freq: float = 440.0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * rate)) / rate
    sf.write(path, (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32), rate)


def _png(path: Path, color: tuple[int, int, int], size: int = 20) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (size, size), color).save(path)


@pytest.fixture()
def pairs(tmp_path: Path) -> Path:
    """Four pairs under tmp/data: 8 kHz wavs of 0.05-0.2 s, 20x20 PNGs, labels cat/dog."""
    root = tmp_path / "data"
    for i, (seconds, color) in enumerate(
        [(0.1, (255, 0, 0)), (0.2, (0, 255, 0)), (0.05, (0, 0, 255)), (0.15, (9, 9, 9))]
    ):
        _wav(root / "audio" / f"{i}.wav", seconds)
        _png(root / "img" / f"{i}.png", color)
    text = "audio,image,label,group\n"
    text += "audio/0.wav,img/0.png,dog,ann\naudio/1.wav,img/1.png,cat,bob\n\n"
    text += f"audio/2.wav,{root / 'img' / '2.png'},dog,ann\naudio/3.wav,img/3.png,cat,bob\n"
    (root / "pairs.csv").write_text(text)
    return root / "pairs.csv"


def test_img_pairs_csv_reads_every_pair(pairs: Path) -> None:
    ds = PairedCSVDataset(pairs, sample_rate=16000, image_size=16, normalize="none")
    assert len(ds) == 4
    assert ds.label_names == ["cat", "dog"] and ds.labels.tolist() == [1, 0, 1, 0]
    assert ds.group_names == ["ann", "bob"] and ds.groups.tolist() == [0, 1, 0, 1]
    assert ds.lines.tolist() == [2, 3, 5, 6]  # the blank line 4 is skipped
    item = ds[1]
    assert set(item) == {"audio", "audio_length", "image", "label", "group"}
    assert item["audio"].shape == (1, 3200)  # 0.2 s at 8 kHz resampled to 16 kHz
    assert int(item["audio_length"]) == 3200
    assert item["image"].shape == (3, 16, 16)
    assert torch.allclose(item["image"][1], torch.ones(16, 16))  # green, scaled to [0, 1]
    assert int(item["label"]) == 0 and int(item["group"]) == 1
    assert torch.allclose(ds[2]["image"][2], torch.ones(16, 16))  # absolute path works


def test_img_pairs_csv_without_labels_gives_minus_one(tmp_path: Path) -> None:
    _wav(tmp_path / "a.wav", 0.1)
    _png(tmp_path / "a.png", (1, 2, 3))
    (tmp_path / "p.csv").write_text("Image,Audio\na.png,a.wav\n")  # any order, any case
    ds = PairedCSVDataset(tmp_path / "p.csv", sample_rate=8000, image_size=8)
    assert ds.labels.tolist() == [-1] and ds.label_names == []
    assert int(ds[0]["label"]) == -1 and ds[0]["audio"].shape == (1, 800)


def test_img_pairs_csv_integer_labels_sort_numerically(tmp_path: Path) -> None:
    rows = []
    for i, label in enumerate(["10", "2", "1"]):
        _wav(tmp_path / f"{i}.wav", 0.05)
        _png(tmp_path / f"{i}.png", (i, i, i))
        rows.append(f"{i}.wav,{i}.png,{label}")
    (tmp_path / "p.csv").write_text("audio,image,label\n" + "\n".join(rows) + "\n")
    ds = PairedCSVDataset(tmp_path / "p.csv", sample_rate=8000, image_size=8)
    assert ds.label_names == ["1", "2", "10"] and ds.labels.tolist() == [2, 1, 0]


def test_img_pairs_csv_windows_crop_and_pad_the_audio(pairs: Path) -> None:
    ds = PairedCSVDataset(pairs, sample_rate=8000, image_size=16).with_window(1200)
    long_item, short_item = ds[1], ds[2]  # 1600 and 400 samples
    assert long_item["audio"].shape == (1, 1200) and int(long_item["audio_length"]) == 1200
    assert short_item["audio"].shape == (1, 1200) and int(short_item["audio_length"]) == 400
    assert torch.count_nonzero(short_item["audio"][0, 400:]) == 0


def test_img_pairs_csv_subset_keeps_labels_and_shares_the_cache(pairs: Path) -> None:
    ds = PairedCSVDataset(pairs, sample_rate=8000, image_size=16)
    sub = ds.subset([3, 0])
    assert len(sub) == 2 and sub.labels.tolist() == [0, 1] and sub.label_names == ds.label_names
    assert torch.equal(sub[0]["image"], ds[3]["image"])
    assert torch.equal(sub[1]["audio"], ds[0]["audio"])
    lazy = PairedCSVDataset(pairs, sample_rate=8000, image_size=16, cache=False)
    assert torch.equal(lazy[3]["image"], ds[3]["image"])
    assert torch.equal(lazy[3]["audio"], ds[3]["audio"])


def _write(tmp_path: Path, text: str) -> Path:
    _wav(tmp_path / "a.wav", 0.1)
    _png(tmp_path / "a.png", (1, 2, 3))
    path = tmp_path / "pairs.csv"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is empty: expected a header audio,image"),
        ("audio,image\n", "has a header but no pairs"),
        ("audio,picture\na.wav,a.png\n", "has no 'image' column \\(its header: audio,picture\\)"),
        ("sound,picture\na.wav,a.png\n", "has no 'audio' and no 'image' column"),
        ("audio,image,speaker\na.wav,a.png,x\n", "unknown column 'speaker'; valid columns"),
        ("audio,image\na.wav\n", "pairs.csv:2: 1 values but the header has 2 columns"),
        ("audio,image\nb.wav,a.png\n", "line 2: audio file 'b.wav' does not exist"),
        (
            "audio,image\na.wav,b.png\n",
            "line 2: image file 'b.png' does not exist; paths are relative to",
        ),
        ("audio,image\na.wav,\n", "line 2: empty image path"),
        ("audio,image,label\na.wav,a.png,\n", "pairs.csv:2: empty label"),
    ],
)
def test_img_pairs_csv_bad_input_is_one_clear_error(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(DataError, match=message):
        PairedCSVDataset(_write(tmp_path, text), sample_rate=8000, image_size=8)


def test_img_pairs_csv_missing_csv_and_undecodable_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="pairs CSV .*nope.csv' does not exist"):
        PairedCSVDataset(tmp_path / "nope.csv")
    path = _write(tmp_path, "audio,image\na.wav,a.png\nbad.wav,a.png\n")
    (tmp_path / "bad.wav").write_bytes(b"not audio at all")
    with pytest.raises(DataError, match="pairs.csv:3: cannot decode audio file 'bad.wav'"):
        PairedCSVDataset(path, sample_rate=8000, image_size=8)
    path.write_text("audio,image\na.wav,bad.png\n")
    (tmp_path / "bad.png").write_bytes(b"not an image")
    with pytest.raises(DataError, match="pairs.csv:2: cannot decode image file 'bad.png'"):
        PairedCSVDataset(path, sample_rate=8000, image_size=8)


def test_img_pairs_csv_audio_with_nan_samples_is_an_error_naming_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "audio,image\na.wav,a.png\nnan.wav,a.png\n")
    wave = np.zeros(800, dtype=np.float32)
    wave[3] = np.inf
    sf.write(tmp_path / "nan.wav", wave, 8000, subtype="FLOAT")
    with pytest.raises(DataError) as err:
        PairedCSVDataset(path, sample_rate=8000, image_size=8)
    assert str(err.value).startswith(
        f"{path}:3: audio file 'nan.wav' holds 1 infinite sample value(s) of 800 (the first in "
        "frame 3, at 0.000375 s)"
    )
