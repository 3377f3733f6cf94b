"""Datasets of a run: what CPC trains on, and what the probe is fit and tested on."""

from __future__ import annotations

from cpckit.config import Config
from cpckit.data.bundle import DataBundle
from cpckit.data.synthetic import SyntheticAudioDataset

__all__ = ["build_datasets"]


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
