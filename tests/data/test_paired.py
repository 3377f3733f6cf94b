"""Synthetic audio + image pairs: determinism, contract, and the class they share."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cpckit.data.collate import collate
from cpckit.data.image_augment import ImageAugment
from cpckit.data.paired import PairedSyntheticDataset, tone_bands
from cpckit.data.synthetic_image import make_pattern_image

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
