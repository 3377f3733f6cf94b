"""Context models, predictors, the CPC model: shapes, causality, gradients, learning."""

from __future__ import annotations

import pytest
import torch

from cpckit.build import build_model, build_objective
from cpckit.config import load_config
from cpckit.context import build_context
from cpckit.data.synthetic import SyntheticAudioDataset
from cpckit.encoders.image import grid_to_sequence
from cpckit.model import pool_grid, pool_time
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


@pytest.mark.parametrize("kind", ["gru", "lstm", "transformer"])
def test_context_models_are_causal(kind: str) -> None:
    torch.manual_seed(0)
    ctx = build_context(kind, z_dim=8, c_dim=16, layers=2, heads=4, ff_dim=32).eval()
    z = torch.randn(2, 10, 8)
    c = ctx(z)
    assert c.shape == (2, 10, 16)
    z2 = z.clone()
    z2[:, 6:] = torch.randn(2, 4, 8)
    c2 = ctx(z2)
    assert torch.allclose(c[:, :6], c2[:, :6], atol=1e-5)
    assert not torch.allclose(c[:, 6:], c2[:, 6:], atol=1e-3)


def test_transformer_learned_positions_and_length_limit() -> None:
    ctx = build_context("transformer", z_dim=4, c_dim=8, heads=2, positional="learned", max_len=5)
    assert ctx(torch.randn(1, 5, 4)).shape == (1, 5, 8)
    with pytest.raises(ValueError, match="longer than max_len = 5"):
        ctx(torch.randn(1, 6, 4))


@pytest.mark.parametrize("kind", ["linear", "mlp"])
def test_predictor_one_head_per_step(kind: str) -> None:
    pred = build_predictor(kind, c_dim=6, z_dim=5, steps=4, hidden=7)
    out = pred(torch.randn(2, 3, 6))
    assert out.shape == (2, 3, 4, 5)


def test_linear_predictor_heads_are_independent_linear_maps() -> None:
    pred = build_predictor("linear", c_dim=3, z_dim=2, steps=2)
    c = torch.randn(1, 1, 3)
    w = pred.heads.weight.view(2, 2, 3)
    b = pred.heads.bias.view(2, 2)
    out = pred(c)[0, 0]
    for k in range(2):
        assert torch.allclose(out[k], w[k] @ c[0, 0] + b[k], atol=1e-6)


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


def test_synthetic_audio_is_deterministic_and_labelled_by_pitch() -> None:
    a = SyntheticAudioDataset(20, sample_rate=8000, duration=0.25, seed=3)
    b = SyntheticAudioDataset(20, sample_rate=8000, duration=0.25, seed=3)
    assert torch.equal(a[7]["audio"], b[7]["audio"])
    assert a[7]["audio"].shape == (1, 2000)
    assert ((a.freqs >= 500) == (a.labels == 1)).all()
    assert (a.freqs >= 150).all() and (a.freqs <= 900).all()
    # the dominant frequency of a clip is its tone
    wave = a.waveform(4)
    spec = abs(torch.fft.rfft(torch.from_numpy(wave)))
    peak_hz = int(spec.argmax()) * 8000 / len(wave)
    assert abs(peak_hz - a.freqs[4]) <= 8000 / len(wave)
    c = SyntheticAudioDataset(20, sample_rate=8000, duration=0.25, seed=4)
    assert not torch.equal(a[7]["audio"], c[7]["audio"])
