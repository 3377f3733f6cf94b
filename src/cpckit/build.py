"""The one place where configs become objects, and the checks that need them.

:func:`cpckit.config.load_config` checks a config's keys, types and values
without importing the model; :func:`check_config` adds what needs the
sampler registry and the encoders' arithmetic (the negatives mode, the audio
window), and :func:`load_checked_config` does both.
"""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any

from torch import nn

from cpckit import config as _config
from cpckit.config import Config, default_conv_layers
from cpckit.context import build_context
from cpckit.encoders.audio import (
    ConvEncoder,
    MelEncoder,
    conv_stack_downsampling,
    conv_stack_output_length,
    conv_stack_receptive_field,
)
from cpckit.errors import ConfigError
from cpckit.model import CPCModel
from cpckit.negatives.base import NegativeSampler
from cpckit.negatives.momentum import MomentumEncoder
from cpckit.negatives.registry import build_samplers, parse_mode
from cpckit.objective import CPCObjective
from cpckit.predictor import build_predictor
from cpckit.similarity import Similarity

__all__ = [
    "audio_latent_length",
    "build_encoder",
    "build_model",
    "build_objective",
    "check_audio_window",
    "check_config",
    "load_checked_config",
    "min_clip_samples",
    "modalities_of",
]

PREDICTION_STEPS_NEEDED = 2
"""Valid latent steps a clip needs for one CPC prediction: step 1 from the first to the second."""


def load_checked_config(
    path: str | Path | None = None,
    overrides: typing.Sequence[str] = (),
    flags: dict[str, Any] | None = None,
) -> Config:
    """:func:`cpckit.config.load_config`, then :func:`check_config`: a config ready to build.

    Options set that the rest of the config makes inert are named in a
    :class:`cpckit.config_effects.NoEffectWarning` each.

    Raises:
        ConfigError: one line naming the key, the value and what would be valid.
    """
    given: set[str] = set()
    cfg = _config.load_config(path, overrides, flags, given)
    check_config(cfg)
    from cpckit.config_effects import warn_no_effect

    warn_no_effect(cfg, given)
    return cfg


def check_config(cfg: Config) -> None:
    """The checks that need the model: the negatives mode and the audio window.

    ``negatives.mode`` / ``negatives.samplers`` against the sampler
    registry, and for audio the window against the configured encoder's
    arithmetic and K (:func:`check_audio_window`).

    Raises:
        ConfigError: one line naming the key, the value and what would be valid.
    """
    parse_mode(cfg.negatives.mode, cfg.negatives.samplers)
    if cfg.data.modality in ("audio", "multimodal"):
        check_audio_window(cfg)
        from cpckit.data.audio_augment import make_audio_augment

        try:
            make_audio_augment(cfg)
        except ValueError as err:
            raise ConfigError(f"audio_augment: {err}") from None


def _conv_rows(cfg: Config) -> list[list[int]]:
    enc = cfg.audio_encoder
    return enc.conv_layers if enc.conv_layers is not None else default_conv_layers(cfg.model.z_dim)


def audio_latent_length(cfg: Config, n_samples: int) -> int:
    """Latent steps the configured audio encoder gives for ``n_samples``."""
    enc = cfg.audio_encoder
    if enc.kind == "mel":
        return n_samples // enc.hop_length + 1
    return conv_stack_output_length(_conv_rows(cfg), n_samples)


def check_audio_window(cfg: Config) -> int:
    """Check that the window, sample rate, downsampling and K fit; return the samples per window.

    One check for every audio path: :func:`cpckit.data.windows.check_window`
    with the configured encoder's exact output length.

    Raises:
        ConfigError: naming the values and what to change.
    """
    from cpckit.data.windows import check_window

    enc = cfg.audio_encoder
    if enc.kind == "mel":
        downsampling, receptive_field = enc.hop_length, enc.n_fft
    else:
        rows = _conv_rows(cfg)
        downsampling, receptive_field = (
            conv_stack_downsampling(rows),
            conv_stack_receptive_field(rows),
        )
    plan = check_window(
        cfg.data.full_duration,
        cfg.data.sample_rate,
        downsampling,
        receptive_field,
        cfg.model.prediction_steps,
        output_length=lambda n: audio_latent_length(cfg, n),
    )
    need = min_clip_samples(cfg)
    if need > plan.window_samples:
        # enough latent steps, but too few of them valid: every prediction would be masked
        rate = cfg.data.sample_rate
        raise ConfigError(
            f"data.full_duration = {cfg.data.full_duration:g} s at {rate} Hz gives "
            f"{plan.window_samples} samples, but the {encoder_summary(cfg)} needs {need} samples "
            f"({need / rate:.4g} s) for {PREDICTION_STEPS_NEEDED} valid latent steps, the fewest "
            f"that give one prediction: raise data.full_duration to >= "
            f"{-(-need * 1000 // rate) / 1000:g} s, or use {_smaller_encoder_keys(cfg)}"
        )
    return plan.window_samples


def min_clip_samples(cfg: Config) -> int:
    """The fewest samples of a clip that give one valid CPC prediction with the configured encoder.

    A prediction of step k made at latent step t is scored only when its
    target ``t + k`` is a valid latent step (one that depends on nothing
    after the clip's end, per the encoder's ``valid_mask``), so a clip needs
    two valid steps; a shorter one trains nothing and is padding to every
    batch it is in. Measured on the encoder itself
    (:func:`cpckit.encoders.steps.min_samples`), so it follows every
    encoder's own arithmetic.
    """
    import torch

    from cpckit.encoders.steps import min_samples

    with torch.device("meta"):  # only the arithmetic is used: no weights are allocated
        encoder = _audio_encoder(cfg)
    return min_samples(encoder, steps=PREDICTION_STEPS_NEEDED)


def encoder_summary(cfg: Config) -> str:
    """The configured audio encoder in a few words, for messages about its sample needs."""
    enc = cfg.audio_encoder
    if enc.kind == "mel":
        return (
            f"log-mel encoder (audio_encoder.n_fft = {enc.n_fft}, hop_length = {enc.hop_length}, "
            f"mel_layers = {enc.mel_layers})"
        )
    rows = _conv_rows(cfg)
    return (
        f"conv encoder (receptive field {conv_stack_receptive_field(rows)} samples, "
        f"{conv_stack_downsampling(rows)}x downsampling)"
    )


def _smaller_encoder_keys(cfg: Config) -> str:
    if cfg.audio_encoder.kind == "mel":
        return "a smaller audio_encoder.n_fft, hop_length or mel_layers"
    return "smaller kernels or strides in audio_encoder.conv_layers"


def modalities_of(cfg: Config) -> list[str]:
    """``["audio"]``, ``["image"]`` or ``["audio", "image"]``."""
    return ["audio", "image"] if cfg.data.modality == "multimodal" else [cfg.data.modality]


def _audio_encoder(cfg: Config) -> ConvEncoder | MelEncoder:
    enc = cfg.audio_encoder
    if enc.kind == "mel":
        return MelEncoder(
            sample_rate=cfg.data.sample_rate,
            z_dim=cfg.model.z_dim,
            n_mels=enc.n_mels,
            n_fft=enc.n_fft,
            win_length=enc.win_length,
            hop_length=enc.hop_length,
            channels=enc.mel_channels,
            layers=enc.mel_layers,
            norm=enc.mel_norm,
        )
    return ConvEncoder(_conv_rows(cfg), cfg.model.z_dim, enc.norm)


def build_encoder(cfg: Config, modality: str) -> nn.Module:
    if modality == "audio":
        return _audio_encoder(cfg)
    if modality == "image":
        from cpckit.encoders.image import PatchEncoder

        enc = cfg.image_encoder
        return PatchEncoder(
            in_channels=3,
            patch_size=enc.patch_size,
            stride=enc.stride,
            width=enc.width,
            depth=enc.depth,
            z_dim=cfg.model.z_dim,
            order=enc.order,
            norm=enc.norm,
            stem_stride=enc.stem_stride,
            patch_augment=enc.patch_augment,
            patch_augment_to=enc.patch_augment_to,
        )
    raise ValueError(f"unknown modality {modality!r}")


def build_model(cfg: Config) -> CPCModel:
    """Encoders, shared context model and prediction heads for a config."""
    m = cfg.model
    names = modalities_of(cfg)
    encoders = {name: build_encoder(cfg, name) for name in names}
    context = build_context(
        m.kind,
        z_dim=m.z_dim,
        c_dim=m.c_dim,
        layers=m.layers,
        heads=m.heads,
        ff_dim=m.ff_dim,
        dropout=m.dropout,
        positional=m.positional,
        max_len=m.max_len,
    )
    predictors = {
        name: build_predictor(
            m.predictor,
            c_dim=m.c_dim,
            z_dim=m.z_dim,
            steps=m.prediction_steps,
            hidden=m.predictor_hidden,
        )
        for name in names
    }
    return CPCModel(encoders, context, predictors, steps=m.prediction_steps)


def build_objective(cfg: Config, model: CPCModel | None = None) -> CPCObjective:
    """Samplers (one set per modality), similarity and loss options for a config.

    With ``negatives.momentum > 0`` the objective holds a momentum (EMA) copy
    of ``model``'s encoders that makes the queued keys, so ``model`` is needed.
    """
    samplers: dict[str, list[NegativeSampler]] = {
        name: build_samplers(cfg.negatives, dim=cfg.model.z_dim) for name in modalities_of(cfg)
    }
    key_encoder = None
    if cfg.negatives.momentum > 0:
        if model is None:
            raise ValueError("build_objective: negatives.momentum > 0 needs the model")
        key_encoder = MomentumEncoder(model.encoders, cfg.negatives.momentum)
    return CPCObjective(
        samplers,
        Similarity(cfg.loss.similarity, cfg.loss.temperature),
        debiased=cfg.loss.debiased,
        tau_plus=cfg.loss.tau_plus,
        step_weights=cfg.loss.step_weights,
        key_encoder=key_encoder,
    )
