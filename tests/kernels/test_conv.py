"""The channels-last conv kernels against conv1d and the channel norm's formula:
same outputs, same gradients, in float64."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

from cpckit.encoders.audio import ChannelNorm, ConvEncoder
from cpckit.kernels import conv
from helpers.kernels import plain_encoder


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
def test_kernels_channels_last_encoder_matches_conv1d(rows: list[list[int]], norm: str) -> None:
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
def test_kernels_waveform_layer_norm_from_patch_statistics(
    rows: list[list[int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first layer's norm computed from the k x k patch statistics matches
    conv1d + layer norm, with a learned scale and shift that are not 1 and 0."""
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


def test_kernels_channel_norm_module_matches_its_formula() -> None:
    norm = ChannelNorm(6)
    with torch.no_grad():
        norm.weight.normal_()
        norm.bias.normal_()
    x = torch.randn(2, 6, 11) * 3 + 1
    var, mean = torch.var_mean(x, dim=1, keepdim=True, unbiased=False)
    ref = (x - mean) / torch.sqrt(var + norm.eps) * norm.weight + norm.bias
    torch.testing.assert_close(norm(x), ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("m", [1, 2, 4])
def test_kernels_frame_conv_matches_conv1d(m: int) -> None:
    torch.manual_seed(5)
    s, c_in, c_out, l_out = 2, 3, 4, 6
    frames = torch.randn(2, l_out + m - 1, s * c_in, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(c_out, c_in, m * s, dtype=torch.float64, requires_grad=True)
    # frames[b, f] holds s steps of C_in channels: the (B, C_in, S) input of conv1d
    x = frames.view(2, (l_out + m - 1) * s, c_in).transpose(1, 2)
    torch.testing.assert_close(
        conv.frame_conv(frames, weight, m), F.conv1d(x, weight, stride=s).transpose(1, 2)
    )
    assert torch.autograd.gradcheck(lambda f, w: conv.frame_conv(f, w, m), (frames, weight))


def test_kernels_norm_relu_pad_pads_crops_and_differentiates() -> None:
    torch.manual_seed(6)
    y = torch.randn(2, 5, 4, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(4, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(4, dtype=torch.float64, requires_grad=True)
    for left, right in [(0, 0), (2, 3), (1, -1)]:
        out = conv.norm_relu_pad(y, weight, bias, 1e-5, left, right)
        ref = conv.pad_time(torch.relu(F.layer_norm(y, (4,), weight, bias, 1e-5)), left, right)
        torch.testing.assert_close(out, ref)
        assert torch.autograd.gradcheck(
            lambda a, w, b, pad=(left, right): conv.norm_relu_pad(a, w, b, 1e-5, *pad),
            (y, weight, bias),
        )
