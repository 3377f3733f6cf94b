"""Datasets of a run: what CPC trains on, and what the probe is fit and tested on."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from cpckit.config import Config
from cpckit.data.synthetic import SyntheticAudioDataset

__all__ = ["DataBundle", "build_datasets", "make_loader"]


@dataclass
class DataBundle:
    """Datasets of one run.

    Attributes:
        train: CPC training examples (fixed-size windows).
        probe_train: examples the probe is fit on (whole clips for real audio).
        probe_test: held-out examples the probe is tested on.
        val: optional validation examples for the loss.
        label_names: label index -> name.
        info: facts worth printing (counts, skipped files).
    """

    train: Dataset[Any]
    probe_train: Dataset[Any]
    probe_test: Dataset[Any]
    val: Dataset[Any] | None = None
    label_names: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)


def _synthetic_audio(cfg: Config) -> DataBundle:
    d = cfg.data
    common = dict(
        sample_rate=d.sample_rate,
        duration=d.full_duration,
        noise_std=d.noise_std,
        freq_min=d.freq_min,
        freq_max=d.freq_max,
        freq_split=d.freq_split,
    )
    train = SyntheticAudioDataset(d.n_train, seed=cfg.train.seed, **common)  # type: ignore[arg-type]
    test = SyntheticAudioDataset(d.n_test, seed=cfg.train.seed + 10_000, **common)  # type: ignore[arg-type]
    return DataBundle(
        train=train,
        probe_train=train,
        probe_test=test,
        label_names=train.label_names,
        info={"train examples": len(train), "probe-test examples": len(test)},
    )


def build_datasets(cfg: Config) -> DataBundle:
    """Datasets for a config (synthetic or real, per modality)."""
    d = cfg.data
    if d.modality == "audio":
        if d.use_mock_data:
            return _synthetic_audio(cfg)
        from cpckit.data.audio_bundle import real_audio_bundle

        return real_audio_bundle(cfg)
    if d.modality == "image":
        from cpckit.data.image_bundle import image_bundle

        return image_bundle(cfg)
    from cpckit.data.image_bundle import multimodal_bundle

    return multimodal_bundle(cfg)


def make_loader(
    ds: Dataset[Any],
    batch_size: int,
    *,
    shuffle: bool,
    num_workers: int = 0,
    seed: int = 0,
    drop_last: bool = False,
) -> DataLoader[Any]:
    from cpckit.data.collate import collate

    gen = torch.Generator()
    gen.manual_seed(seed)
    return DataLoader(
        ds,
        batch_size=batch_size,
        shuffle=shuffle,
        num_workers=num_workers,
        collate_fn=collate,
        drop_last=drop_last,
        generator=gen,
        persistent_workers=num_workers > 0,
    )
