"""The one place where configs become objects."""

from __future__ import annotations

from torch import nn

from cpckit.config import Config
from cpckit.context import build_context
from cpckit.model import CPCModel
from cpckit.negatives.base import NegativeSampler
from cpckit.negatives.momentum import MomentumEncoder
from cpckit.negatives.registry import build_samplers
from cpckit.objective import CPCObjective
from cpckit.predictor import build_predictor
from cpckit.similarity import Similarity

__all__ = ["build_encoder", "build_model", "build_objective", "modalities_of"]


def modalities_of(cfg: Config) -> list[str]:
    """``["audio"]``, ``["image"]`` or ``["audio", "image"]``."""
    return ["audio", "image"] if cfg.data.modality == "multimodal" else [cfg.data.modality]


def build_encoder(cfg: Config, modality: str) -> nn.Module:
    if modality == "audio":
        from cpckit.encoders.audio import build_audio_encoder_from

        return build_audio_encoder_from(cfg)
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
