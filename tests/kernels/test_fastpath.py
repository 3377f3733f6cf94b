"""The whole model on the CPU fast paths (channels-last encoder, GRU with its own
backward, chunked scoring) against the plain references: same loss, same
gradients; autocast and CPCKIT_FAST_PATH=0 run the plain modules."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cpckit.build import build_model, build_objective
from cpckit.config import load_config
from cpckit.context import GRUContext
from cpckit.encoders.audio import ConvEncoder
from cpckit.kernels.fastpath import use_fast_path
from cpckit.model import CPCModel, CPCOutput
from helpers.kernels import plain_encoder, plain_gru

SMALL = [
    "audio_encoder.kind=conv",
    "audio_encoder.conv_layers=[[1,12,10,5,3,1],[12,12,8,4,2,1],[12,12,4,2,1,1]]",
    "model.z_dim=12",
    "model.c_dim=10",
    "model.prediction_steps=4",
    "data.full_duration=0.06",
    "negatives.n_negatives=9",
]


def plain_model_outputs(model: CPCModel, x: Tensor) -> dict[str, CPCOutput]:
    enc = model.encoders["audio"]
    ctx = model.context
    assert isinstance(enc, ConvEncoder) and isinstance(ctx, GRUContext)
    z = plain_encoder(enc, x)
    c = plain_gru(ctx.rnn, z)
    length = z.shape[1] - model.steps
    heads = model.predictors["audio"].heads
    b = c.shape[0]
    pred = F.linear(c[:, :length], heads.weight, heads.bias).view(b, length, model.steps, -1)
    return {"audio": CPCOutput(z=z, c=c, pred=pred, valid=None)}


def _loss_and_grads(
    model: CPCModel, objective: nn.Module, outputs: dict[str, CPCOutput], seed: int
) -> tuple[Tensor, dict[str, Tensor]]:
    model.zero_grad(set_to_none=True)
    torch.manual_seed(seed)
    loss = objective(outputs).loss
    loss.backward()
    grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    return loss.detach(), grads


@pytest.mark.parametrize(
    ("dtype", "rtol", "atol"), [(torch.float64, 1e-9, 1e-11), (torch.float32, 2e-4, 2e-5)]
)
def test_kernels_fast_model_matches_plain_reference_loss_and_gradients(
    dtype: torch.dtype, rtol: float, atol: float
) -> None:
    cfg = load_config(None, SMALL)
    torch.manual_seed(0)
    model = build_model(cfg).to(dtype)
    objective = build_objective(cfg)
    x = torch.randn(3, 1, int(cfg.data.full_duration * cfg.data.sample_rate), dtype=dtype)

    fast_loss, fast_grads = _loss_and_grads(model, objective, model({"audio": x}), seed=5)
    ref_loss, ref_grads = _loss_and_grads(model, objective, plain_model_outputs(model, x), seed=5)

    torch.testing.assert_close(fast_loss, ref_loss, rtol=rtol, atol=atol)
    assert fast_grads.keys() == ref_grads.keys() == {n for n, _ in model.named_parameters()}
    for name in ref_grads:
        torch.testing.assert_close(
            fast_grads[name],
            ref_grads[name],
            rtol=rtol,
            atol=atol,
            msg=lambda m, n=name: f"{n}: {m}",
        )


def test_kernels_model_runs_under_cpu_autocast() -> None:
    cfg = load_config(None, SMALL)
    model, objective = build_model(cfg), build_objective(cfg)
    x = torch.randn(2, 1, int(cfg.data.full_duration * cfg.data.sample_rate))
    torch.manual_seed(0)
    with torch.no_grad():
        full = objective(model({"audio": x})).loss
    torch.manual_seed(0)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = objective(model({"audio": x})).loss
    loss.backward()
    assert torch.isfinite(loss)
    # bfloat16 keeps about 3 significant digits: the loss is the float32 one to a few per cent
    assert abs(float(loss) - float(full)) < 0.05 * float(full)


def test_kernels_fast_path_env_switch_runs_the_plain_modules(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    x = torch.randn(2, 1, 1600)
    assert use_fast_path(x)
    torch.manual_seed(0)
    enc = ConvEncoder([[1, 8, 10, 5, 3, 1], [8, 8, 8, 4, 2, 1]], z_dim=8)
    fast = enc(x)
    calls: list[int] = []
    handle = enc.convs[0].register_forward_hook(lambda *_: calls.append(1))
    enc(x)
    assert calls == []  # the fast path does not call nn.Conv1d
    monkeypatch.setenv("CPCKIT_FAST_PATH", "0")
    assert not use_fast_path(x)
    plain = enc(x)
    handle.remove()
    assert calls == [1]
    torch.testing.assert_close(plain, fast, atol=1e-5, rtol=1e-4)
