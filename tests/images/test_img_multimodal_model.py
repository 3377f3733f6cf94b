"""Multimodal CPC: one shared context model over audio and image latents of different lengths."""

from __future__ import annotations

import pytest
import torch

from cpckit.build import build_model, build_objective
from cpckit.config import load_config
from cpckit.context import build_context
from cpckit.data.collate import collate
from cpckit.data.paired import PairedSyntheticDataset
from cpckit.encoders.image import PatchEncoder
from cpckit.model import CPCModel
from cpckit.negatives.base import NegativeQuery
from cpckit.negatives.cross_modal import CrossModalSampler
from cpckit.predictor import build_predictor

ARGS = [
    "data.modality=multimodal",
    "data.image_size=16",
    "data.full_duration=0.16",
    "image_encoder.width=8",
    "image_encoder.depth=1",
    "image_encoder.stem_stride=2",
    "audio_encoder.mel_channels=16",
    "audio_encoder.mel_layers=1",
    "model.z_dim=16",
    "model.c_dim=16",
    "model.prediction_steps=2",
    "negatives.mode=inbatch+crossmodal",
    "negatives.n_negatives=8",
    "negatives.n_crossmodal=8",
]


def _batch() -> dict[str, torch.Tensor]:
    ds = PairedSyntheticDataset(4, sample_rate=16000, duration=0.16, image_size=16)
    return collate([ds[i] for i in range(4)])


def test_img_multimodal_shared_context_runs_both_lengths() -> None:
    torch.manual_seed(0)
    cfg = load_config(None, ARGS)
    model = build_model(cfg)
    assert model.modalities == ["audio", "image"]
    out = model(_batch())
    assert out["audio"].z.shape == (4, 17, 16)  # 0.16 s of mel frames at a 10 ms hop
    assert out["image"].z.shape == (4, 9, 16)  # a 3x3 patch grid
    assert out["audio"].pred.shape == (4, 15, 2, 16) and out["image"].pred.shape == (4, 7, 2, 16)
    # One context model: its output for the image latents is what it gives them alone.
    assert torch.allclose(out["image"].c, model.context(out["image"].z))
    result = build_objective(cfg)(out)
    assert set(result.per_modality) == {"audio", "image"}
    result.loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name


def test_img_multimodal_crossmodal_negatives_are_the_other_modalitys_latents() -> None:
    torch.manual_seed(1)
    model = build_model(load_config(None, ARGS))
    out = model(_batch())
    audio, image = out["audio"], out["image"]
    query = NegativeQuery(q=audio.pred, keys=audio.z, other_keys=image.z)
    neg, mask = CrossModalSampler(6).gather_negatives(query)
    assert neg.shape == (4, 15, 2, 6, 16) and bool(mask.all())
    image_rows = image.z.reshape(-1, 16)
    audio_rows = audio.z.reshape(-1, 16)
    for vec in neg.reshape(-1, 16)[:200]:
        assert bool((vec == image_rows).all(-1).any())
        assert not bool((vec == audio_rows).all(-1).any())


def test_img_multimodal_encoders_must_share_z_dim() -> None:
    cfg = load_config(None, ARGS)
    from cpckit.build import build_encoder

    audio = build_encoder(cfg, "audio")
    image = PatchEncoder(patch_size=8, stride=4, width=8, depth=0, z_dim=24)
    context = build_context("gru", z_dim=16, c_dim=16)
    heads = {m: build_predictor("linear", c_dim=16, z_dim=16, steps=2) for m in ("audio", "image")}
    with pytest.raises(ValueError, match="latent dimensions differ .*'audio': 16, 'image': 24"):
        CPCModel({"audio": audio, "image": image}, context, heads, steps=2)
