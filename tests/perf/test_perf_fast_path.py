"""The CPU fast paths (channels-last encoder, GRU with its own backward, chunked
scoring) against plain implementations written here: same losses, same gradients."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cpckit.build import build_model, build_objective
from cpckit.config import load_config
from cpckit.context import GRUContext
from cpckit.encoders.audio import ChannelNorm, ConvEncoder
from cpckit.model import CPCModel, CPCOutput
from cpckit.negatives.base import score_candidates

SMALL = [
    "audio_encoder.kind=conv",
    "audio_encoder.conv_layers=[[1,12,10,5,3,1],[12,12,8,4,2,1],[12,12,4,2,1,1]]",
    "model.z_dim=12",
    "model.c_dim=10",
    "model.prediction_steps=4",
    "data.full_duration=0.06",
    "negatives.n_negatives=9",
]


# --- plain reference implementations -------------------------------------------------


def plain_encoder(enc: ConvEncoder, x: Tensor) -> Tensor:
    """conv1d in (B, C, L), the channel norm by its formula, ReLU, then the projection."""
    h = x
    modules = list(enc.convs)
    for i, (_, _, _, s, p, d) in enumerate(enc.rows):
        conv, norm = modules[3 * i], modules[3 * i + 1]
        assert isinstance(conv, nn.Conv1d)
        h = F.conv1d(h, conv.weight, conv.bias, stride=s, padding=p, dilation=d)
        if isinstance(norm, ChannelNorm):
            var, mean = torch.var_mean(h, dim=1, keepdim=True, unbiased=False)
            h = (h - mean) / torch.sqrt(var + norm.eps) * norm.weight + norm.bias
        elif isinstance(norm, nn.BatchNorm1d):
            h = norm(h)
        h = torch.relu(h)
    return enc.proj(h.transpose(1, 2))


def plain_gru(rnn: nn.GRU, z: Tensor) -> Tensor:
    """The GRU equations of the PyTorch docs, one time step at a time."""
    h_seq = z
    for layer in range(rnn.num_layers):
        w_ih = getattr(rnn, f"weight_ih_l{layer}")
        w_hh = getattr(rnn, f"weight_hh_l{layer}")
        b_ih = getattr(rnn, f"bias_ih_l{layer}")
        b_hh = getattr(rnn, f"bias_hh_l{layer}")
        h = z.new_zeros(z.shape[0], rnn.hidden_size)
        outs = []
        for t in range(h_seq.shape[1]):
            gi = h_seq[:, t] @ w_ih.t() + b_ih
            gh = h @ w_hh.t() + b_hh
            i_r, i_z, i_n = gi.chunk(3, dim=1)
            h_r, h_z, h_n = gh.chunk(3, dim=1)
            r = torch.sigmoid(i_r + h_r)
            u = torch.sigmoid(i_z + h_z)
            n = torch.tanh(i_n + r * h_n)
            h = (1 - u) * n + u * h
            outs.append(h)
        h_seq = torch.stack(outs, dim=1)
    return h_seq


def plain_scores(q: Tensor, bank: Tensor, idx: Tensor) -> Tensor:
    """Materialise every candidate, ``(B, T, n, D)``, and take the dot products."""
    return torch.einsum("btkd,btnd->btkn", q, bank[idx])


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


# --- tests ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dtype", "rtol", "atol"), [(torch.float64, 1e-9, 1e-11), (torch.float32, 2e-4, 2e-5)]
)
def test_perf_fast_model_matches_plain_reference_loss_and_gradients(
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


def test_perf_fast_scoring_matches_materialised_candidates() -> None:
    torch.manual_seed(1)
    q = torch.randn(3, 7, 4, 5, dtype=torch.float64, requires_grad=True)
    bank = torch.randn(40, 5, dtype=torch.float64, requires_grad=True)
    idx = torch.randint(0, 40, (3, 7, 11))
    grad = torch.randn(3, 7, 4, 11, dtype=torch.float64)

    fast = score_candidates(q, bank, idx)
    fast_q, fast_bank = torch.autograd.grad(fast, (q, bank), grad)
    ref = plain_scores(q, bank, idx)
    ref_q, ref_bank = torch.autograd.grad(ref, (q, bank), grad)

    torch.testing.assert_close(fast, ref)
    torch.testing.assert_close(fast_q, ref_q)
    torch.testing.assert_close(fast_bank, ref_bank)


@pytest.mark.parametrize("block", [2, 3, 7, 10])
def test_perf_fast_scoring_of_shared_runs_matches_materialised_candidates(block: int) -> None:
    torch.manual_seed(1)
    q = torch.randn(3, 7, 4, 5, dtype=torch.float64, requires_grad=True)
    bank = torch.randn(40, 5, dtype=torch.float64, requires_grad=True)
    runs = -(-7 // block)
    idx = torch.randint(0, 40, (3, runs, 11))
    grad = torch.randn(3, 7, 4, 11, dtype=torch.float64)

    fast = score_candidates(q, bank, idx, block)
    fast_q, fast_bank = torch.autograd.grad(fast, (q, bank), grad)
    per_position = idx.repeat_interleave(block, dim=1)[:, :7]
    ref = plain_scores(q, bank, per_position)
    ref_q, ref_bank = torch.autograd.grad(ref, (q, bank), grad)

    torch.testing.assert_close(fast, ref)
    torch.testing.assert_close(fast_q, ref_q)
    torch.testing.assert_close(fast_bank, ref_bank)


def test_perf_fast_scoring_without_bank_gradient() -> None:
    q = torch.randn(2, 3, 2, 4, requires_grad=True)
    bank = torch.randn(10, 4)  # e.g. a queue: no gradient
    idx = torch.randint(0, 10, (2, 3, 5))
    (g_q,) = torch.autograd.grad(score_candidates(q, bank, idx).sum(), (q,))
    (r_q,) = torch.autograd.grad(plain_scores(q, bank, idx).sum(), (q,))
    torch.testing.assert_close(g_q, r_q)


@pytest.mark.parametrize("layers", [1, 2])
def test_perf_fast_gru_matches_the_gru_equations(layers: int) -> None:
    torch.manual_seed(2)
    ctx = GRUContext(z_dim=6, c_dim=5, layers=layers).double()
    z = torch.randn(3, 9, 6, dtype=torch.float64, requires_grad=True)
    grad = torch.randn(3, 9, 5, dtype=torch.float64)
    params = [z, *ctx.parameters()]

    fast = ctx(z)
    fast_grads = torch.autograd.grad(fast, params, grad)
    ref = plain_gru(ctx.rnn, z)
    ref_grads = torch.autograd.grad(ref, params, grad)

    torch.testing.assert_close(fast, ref)
    torch.testing.assert_close(fast, ctx.rnn(z)[0])
    for a, b in zip(fast_grads, ref_grads):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize(
    ("rows", "norm"),
    [
        ([[1, 6, 10, 5, 3, 1], [6, 6, 8, 4, 2, 1], [6, 6, 4, 2, 1, 1]], "channel"),
        ([[1, 6, 10, 5, 3, 1], [6, 6, 8, 4, 2, 1]], "none"),
        ([[1, 6, 10, 5, 3, 1], [6, 6, 8, 4, 2, 1]], "batch"),
        # kernels that are not a multiple of the stride, k == s, dilation: other paths
        (
            [[1, 5, 3, 2, 1, 1], [5, 5, 5, 2, 2, 1], [5, 5, 2, 2, 0, 1], [5, 5, 3, 1, 1, 2]],
            "channel",
        ),
        ([[1, 5, 4, 4, 0, 1], [5, 5, 2, 3, 1, 1]], "none"),
    ],
)
def test_perf_channels_last_encoder_matches_conv1d(rows: list[list[int]], norm: str) -> None:
    torch.manual_seed(3)
    enc = ConvEncoder(rows, z_dim=7, norm=norm).double()
    _assert_encoder_matches_plain(enc, torch.randn(2, 1, 333, dtype=torch.float64))


def _assert_encoder_matches_plain(enc: ConvEncoder, x: Tensor) -> None:
    """Output and every parameter gradient of ``enc(x)`` equal :func:`plain_encoder`'s."""
    grad = torch.randn(x.shape[0], enc.output_length(x.shape[-1]), enc.z_dim, dtype=x.dtype)
    params = list(enc.parameters())
    fast = enc(x)
    fast_grads = torch.autograd.grad(fast, params, grad)
    ref = plain_encoder(enc, x)
    ref_grads = torch.autograd.grad(ref, params, grad)
    torch.testing.assert_close(fast, ref)
    for a, b in zip(fast_grads, ref_grads):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize(
    "rows",
    [
        [[1, 6, 10, 5, 3, 1], [6, 6, 8, 4, 2, 1]],
        [[1, 6, 10, 5, 3, 1]],  # the last layer: no padding
        [[1, 5, 4, 4, 0, 1], [5, 5, 2, 2, 0, 1]],  # the next conv drops a trailing step
        [[1, 5, 3, 2, 1, 1], [5, 5, 5, 2, 2, 1]],
    ],
)
def test_perf_waveform_layer_norm_from_patch_statistics(
    rows: list[list[int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first layer's norm computed from the k x k patch statistics matches
    conv1d + layer norm, with a learned scale and shift that are not 1 and 0."""
    from cpckit.kernels import conv

    calls = []
    apply = conv.PatchNormReluPad.apply
    monkeypatch.setattr(conv.PatchNormReluPad, "apply", lambda *a: calls.append(1) or apply(*a))
    torch.manual_seed(4)
    enc = ConvEncoder(rows, z_dim=7, norm="channel").double()
    with torch.no_grad():
        for m in enc.modules():
            if isinstance(m, ChannelNorm):
                m.weight.normal_()
                m.bias.normal_()
    _assert_encoder_matches_plain(enc, torch.randn(3, 1, 405, dtype=torch.float64))
    assert calls == [1]


def test_perf_channel_norm_module_matches_its_formula() -> None:
    norm = ChannelNorm(6)
    with torch.no_grad():
        norm.weight.normal_()
        norm.bias.normal_()
    x = torch.randn(2, 6, 11) * 3 + 1
    var, mean = torch.var_mean(x, dim=1, keepdim=True, unbiased=False)
    ref = (x - mean) / torch.sqrt(var + norm.eps) * norm.weight + norm.bias
    torch.testing.assert_close(norm(x), ref, rtol=1e-5, atol=1e-5)


def test_perf_model_runs_under_cpu_autocast() -> None:
    cfg = load_config(None, SMALL)
    model, objective = build_model(cfg), build_objective(cfg)
    x = torch.randn(2, 1, int(cfg.data.full_duration * cfg.data.sample_rate))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = objective(model({"audio": x})).loss
    loss.backward()
    assert torch.isfinite(loss)


def test_perf_fast_path_env_switch_runs_the_plain_modules(monkeypatch: pytest.MonkeyPatch) -> None:
    from cpckit.kernels.fastpath import use_fast_path

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
