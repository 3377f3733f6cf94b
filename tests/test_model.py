"""The CPC model, audio and multimodal: pooling, gradients, learning, short input, shared context."""

from __future__ import annotations

import pytest
import torch

from cpckit.build import build_model, build_objective
from cpckit.config import load_config
from cpckit.context import build_context
from cpckit.data.collate import collate
from cpckit.data.paired import PairedSyntheticDataset
from cpckit.data.synthetic import SyntheticAudioDataset
from cpckit.encoders.image import PatchEncoder, grid_to_sequence
from cpckit.model import CPCModel, pool_grid, pool_time
from cpckit.negatives.base import NegativeQuery
from cpckit.negatives.cross_modal import CrossModalSampler
from cpckit.predictor import build_predictor

TINY = [
    "audio_encoder.kind=conv",
    "model.z_dim=16",
    "model.c_dim=24",
    "model.prediction_steps=3",
    "audio_encoder.conv_layers=[[1,16,10,5,3,1],[16,16,8,4,2,1]]",
    "data.full_duration=0.05",
    "negatives.n_negatives=8",
]


def test_pool_time_mean_max_last_with_mask() -> None:
    x = torch.tensor([[[1.0], [3.0], [100.0]]])
    valid = torch.tensor([[True, True, False]])
    assert pool_time(x, valid, "mean").item() == 2.0
    assert pool_time(x, valid, "max").item() == 3.0
    assert pool_time(x, valid, "last").item() == 3.0


@pytest.mark.parametrize(("gh", "gw"), [(7, 7), (6, 4), (3, 5)])
def test_pool_grid_means_each_quadrant_in_either_order(gh: int, gw: int) -> None:
    grid = torch.randn(2, gh, gw, 3)
    h, w = -(-gh // 2), -(-gw // 2)
    expected = torch.cat(
        [
            grid[:, :h, :w].mean((1, 2)),
            grid[:, :h, gw - w :].mean((1, 2)),
            grid[:, gh - h :, :w].mean((1, 2)),
            grid[:, gh - h :, gw - w :].mean((1, 2)),
        ],
        dim=1,
    )
    raster = grid_to_sequence(grid, "raster")
    column = grid_to_sequence(grid, "column")
    torch.testing.assert_close(pool_time(raster, None, "grid", (gh, gw, "raster")), expected)
    torch.testing.assert_close(pool_grid(column, (gh, gw), "column"), expected)
    with pytest.raises(ValueError, match="pool 'grid' needs an image's patch grid"):
        pool_time(raster, None, "grid")
    with pytest.raises(ValueError, match=f"do not form a {gh + 1}x{gw} patch grid"):
        pool_grid(raster, (gh + 1, gw))


def test_gradients_reach_every_parameter() -> None:
    for kind in ("gru", "lstm", "transformer"):
        cfg = load_config(None, TINY + [f"model.kind={kind}", "model.heads=4"])
        model, objective = build_model(cfg), build_objective(cfg)
        x = torch.randn(4, 1, int(cfg.data.full_duration * cfg.data.sample_rate))
        loss = objective(model({"audio": x})).loss
        loss.backward()
        missing = [
            n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0
        ]
        assert not missing, f"{kind}: no gradient for {missing}"


def test_loss_falls_on_synthetic_audio() -> None:
    torch.manual_seed(0)
    cfg = load_config(None, TINY + ["data.full_duration=0.1"])
    model, objective = build_model(cfg), build_objective(cfg)
    ds = SyntheticAudioDataset(64, sample_rate=16000, duration=0.1, seed=0)
    x = torch.stack([ds[i]["audio"] for i in range(64)])
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for step in range(40):
        batch = x[(step * 16) % 64 : (step * 16) % 64 + 16]
        loss = objective(model({"audio": batch})).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert last < first - 0.5, (first, last)


def test_model_rejects_too_short_input() -> None:
    cfg = load_config(None, TINY)
    model = build_model(cfg)
    with pytest.raises(ValueError, match="needs at least 4"):
        model({"audio": torch.randn(1, 1, 40)})


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
