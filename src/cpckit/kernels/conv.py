"""Channels-last 1-d convolutions of the raw-waveform encoder, with their own backward passes.

:class:`~cpckit.encoders.audio.ConvEncoder` runs its stack on ``(B, L, C)``
activations: every layer's output is written already zero-padded for the
next conv (:func:`conv_padding`), a conv whose kernel is a multiple of its
stride is one matrix product over frames (:func:`frame_conv`), the
waveform layer is a small patch matrix (:func:`patch_conv`), and the
channel norm and ReLU are fused with the padding (:func:`norm_relu_pad`,
:func:`patch_norm_relu_pad`).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "FrameConv",
    "NormReluPad",
    "PatchConv",
    "PatchNormReluPad",
    "conv_output_length",
    "conv_padded",
    "conv_padding",
    "frame_conv",
    "frame_kernels",
    "norm_relu_pad",
    "pad_time",
    "patch_conv",
    "patch_matrix",
    "patch_norm_relu_pad",
]


def conv_output_length(length: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """Output length of a 1-d convolution: ``floor((S + 2p - d(k-1) - 1) / s) + 1``."""
    return (length + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def pad_time(h: Tensor, left: int, right: int) -> Tensor:
    """Zero-pad (or, for a negative amount, crop) ``(B, L, C)`` along time.

    Shape:
        h: ``(B, L, C)`` -> ``(B, left + L + right, C)``
    """
    if left == 0 and right == 0:
        return h
    return F.pad(h, (0, 0, left, right))


def conv_padding(row: list[int], length: int) -> tuple[int, int]:
    """Zeros to add before and after ``length`` steps for :func:`conv_padded` (negative: crop).

    ``row`` is ``[in, out, kernel, stride, padding, dilation]``. The patch
    and frame paths read exactly the samples their outputs need from an
    explicitly padded input; ``conv1d`` pads by itself (``(0, 0)``).
    """
    c_in, _, k, s, p, d = row
    if d != 1 or (c_in != 1 and k % s):
        return 0, 0
    l_out = conv_output_length(length, k, s, p, d)
    if c_in == 1:
        return p, s * (l_out - 1) + k - p - length
    return p, s * (l_out + k // s - 1) - p - length


def patch_matrix(hp: Tensor, k: int, s: int, l_out: int) -> Tensor:
    """The patches of a padded one-channel input at stride ``s``, one row per output step.

    Shape:
        hp: ``(B, S', 1)`` -> ``(B * L_out, k)``
    """
    b = hp.shape[0]
    return hp.reshape(b, -1).unfold(1, k, s).reshape(b * l_out, k)


def conv_padded(hp: Tensor, conv: nn.Conv1d, row: list[int], l_out: int) -> Tensor:
    """``conv`` on channels-last input padded by :func:`conv_padding`.

    Kernels that are a multiple of the stride (all of the CPC encoder's) read
    the padded input as non-overlapping frames of ``s`` steps, a free view, so
    the conv is one matrix product plus a shifted sum (:func:`frame_conv`).
    A single input channel (the waveform) is unfolded into its small
    ``(B, L_out, k)`` patch matrix (:func:`patch_conv`). Other shapes
    (dilation, other kernels) run ``conv1d``.

    Shape:
        hp: ``(B, S', C_in)`` -> ``(B, L_out, C_out)``
    """
    c_in, c_out, k, s, _, d = row
    b = hp.shape[0]
    if d == 1 and c_in == 1:
        cols = patch_matrix(hp, k, s, l_out)
        y = patch_conv(cols, conv.weight.view(c_out, k)).view(b, l_out, c_out)
    elif d == 1 and k % s == 0:
        m = k // s
        y = frame_conv(hp.reshape(b, l_out + m - 1, s * c_in), conv.weight, m)
    else:
        return conv(hp.transpose(1, 2)).transpose(1, 2).contiguous()
    return y if conv.bias is None else y + conv.bias


def norm_relu_pad(
    y: Tensor, weight: Tensor, bias: Tensor, eps: float, left: int, right: int
) -> Tensor:
    """``relu(layer_norm(y))`` over channels, written into a zero-padded buffer (:class:`NormReluPad`).

    Shape:
        y: ``(B, L, C)``; weight, bias: ``(C,)`` -> ``(B, left + L + right, C)``
        (a negative ``right`` crops)
    """
    out: Tensor = NormReluPad.apply(y, weight, bias, eps, left, right)
    return out


def patch_norm_relu_pad(
    cols: Tensor,
    weight: Tensor,
    gamma: Tensor,
    beta: Tensor,
    eps: float,
    batch: int,
    left: int,
    right: int,
) -> Tensor:
    """``relu(layer_norm(cols @ weight.T))`` for the bias-free waveform conv (:class:`PatchNormReluPad`).

    Shape:
        cols: ``(B * L, k)``; weight: ``(C, k)``; gamma, beta: ``(C,)``
        -> ``(B, left + L + right, C)`` (a negative ``right`` crops)
    """
    out: Tensor = PatchNormReluPad.apply(cols, weight, gamma, beta, eps, batch, left, right)
    return out


def patch_conv(cols: Tensor, weight: Tensor) -> Tensor:
    """``cols @ weight.T`` for a patch matrix with few columns (:class:`PatchConv`).

    Shape:
        cols: ``(N, k)``; weight: ``(C_out, k)`` -> ``(N, C_out)``
    """
    out: Tensor = PatchConv.apply(cols, weight)
    return out


def frame_conv(frames: Tensor, weight: Tensor, m: int) -> Tensor:
    """A strided conv whose kernel spans ``m`` whole frames (:class:`FrameConv`).

    Shape:
        frames: ``(B, L_out + m - 1, s * C_in)``; weight: ``(C_out, C_in, m * s)``
        -> ``(B, L_out, C_out)``
    """
    out: Tensor = FrameConv.apply(frames, weight, m)
    return out


def frame_kernels(weight: Tensor, m: int) -> Tensor:
    """Conv kernels as ``m`` stacked frame kernels: row block j acts on frame ``t + j``.

    Shape:
        weight: ``(C_out, C_in, m * s)`` -> ``(m * C_out, s * C_in)``
    """
    c_out, c_in, k = weight.shape
    s = k // m
    return weight.view(c_out, c_in, m, s).permute(2, 0, 3, 1).reshape(m * c_out, s * c_in)


class NormReluPad(torch.autograd.Function):
    """``relu(layer_norm(y))`` over channels, written into a zero-padded ``(B, L', C)`` buffer.

    The buffer is the next conv's padded input, so no separate padding copy
    is made; the backward pass runs the ReLU mask and the layer norm's
    backward on the interior.

    Shape:
        y: ``(B, L, C)`` -> ``(B, left + L + right, C)`` (a negative ``right`` crops)
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any, y: Tensor, weight: Tensor, bias: Tensor, eps: float, left: int, right: int
    ) -> Tensor:
        b, length, c = y.shape
        h, mean, rstd = torch.native_layer_norm(y, (c,), weight, bias, eps)
        kept = length + min(right, 0)
        out = y.new_empty(b, left + kept + max(right, 0), c)
        out[:, :left].zero_()
        out[:, left + kept :].zero_()
        torch.clamp_min(h[:, :kept], 0.0, out=out[:, left : left + kept])
        ctx.save_for_backward(y, weight, bias, mean, rstd, out)
        ctx.left, ctx.kept = left, kept
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:  # type: ignore[override]
        y, weight, bias, mean, rstd, out = ctx.saved_tensors
        left, kept = ctx.left, ctx.kept
        grad_h = torch.zeros_like(y) if kept < y.shape[1] else None
        interior = grad[:, left : left + kept]
        # the ReLU's backward in one pass: the gradient where the output is > 0
        masked = torch.ops.aten.threshold_backward(interior, out[:, left : left + kept], 0.0)
        if grad_h is None:
            grad_h = masked
        else:
            grad_h[:, :kept] = masked
        grad_y, grad_w, grad_b = torch.ops.aten.native_layer_norm_backward(
            grad_h.contiguous(),
            y,
            [y.shape[-1]],
            mean,
            rstd,
            weight,
            bias,
            [ctx.needs_input_grad[0], ctx.needs_input_grad[1], ctx.needs_input_grad[2]],
        )
        return grad_y, grad_w, grad_b, None, None, None


class PatchNormReluPad(torch.autograd.Function):
    """``relu(layer_norm(cols @ W.T))`` over channels for a bias-free conv on the waveform.

    Each output row is a linear map of a k-sample patch ``p`` (k = 10 in the
    CPC encoder, against C = 256 channels), so its channel mean and variance
    are the mean and a quadratic form of the patch: with the channel-centred
    kernels ``Wc = W - mean_c(W)``, ``var = p' (Wc' Wc / C) p``. The
    normalised, scaled and shifted output is then one matrix product,
    ``relu((p * rstd) @ (gamma * Wc)' + beta)``, written straight into the
    next conv's zero-padded input; the pre-norm activations are never formed.
    The backward pass is two skinny matrix products over the masked output
    gradient (``dy' q`` and ``dy (gamma * Wc)``) plus ``k x k`` algebra for
    the gradients that flow through the mean and ``rstd``.

    Shape:
        cols: ``(B * L, k)``; weight: ``(C, k)``; gamma, beta: ``(C,)``
        -> ``(B, left + L + right, C)`` (a negative ``right`` crops)
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        cols: Tensor,
        weight: Tensor,
        gamma: Tensor,
        beta: Tensor,
        eps: float,
        b: int,
        left: int,
        right: int,
    ) -> Tensor:
        n, k = cols.shape
        c = weight.shape[0]
        length = n // b
        kept = length + min(right, 0)
        rows = left + kept + max(right, 0)
        w_c = weight - weight.mean(0, keepdim=True)
        quad = torch.mm(w_c.t(), w_c).div_(c)  # (k, k)
        rstd = torch.mm(cols, quad).mul_(cols).sum(1).add_(eps).rsqrt_()
        # q: the rstd-scaled patches in the padded layout, with a column of
        # ones (zero on padding rows) that yields the beta gradient for free
        q = cols.new_zeros(b, rows, k + 1)
        q[:, left : left + kept, :k] = (cols * rstd.unsqueeze(1)).view(b, length, k)[:, :kept]
        q[:, left : left + kept, k] = 1.0
        w_eff = w_c * gamma.unsqueeze(1)
        out = torch.addmm(beta, q.view(-1, k + 1)[:, :k], w_eff.t()).view(b, rows, c)
        out.clamp_min_(0.0)
        out[:, :left].zero_()
        out[:, left + kept :].zero_()
        ctx.save_for_backward(q, w_c, gamma, out)
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:  # type: ignore[override]
        q, w_c, gamma, out = ctx.saved_tensors
        c, k = w_c.shape
        q1 = q.view(-1, k + 1)
        qk = q1[:, :k]
        dy = torch.ops.aten.threshold_backward(grad, out, 0.0).view(-1, c)
        a1 = torch.mm(q1.t(), dy).t()  # (C, k + 1): sum_t dy_t q_t', last column sum_t dy_t
        a, grad_beta = a1[:, :k], a1[:, k].contiguous()
        grad_gamma = (w_c * a).sum(1)
        # s_t = dL/dxhat_t . xhat_t, through rstd's dependence on the kernels
        s = torch.mm(dy, w_c * gamma.unsqueeze(1)).mul_(qk).sum(1)
        quad_s = torch.mm((qk * s.unsqueeze(1)).t(), qk)  # (k, k)
        grad_wc = a * gamma.unsqueeze(1) - torch.mm(w_c, quad_s).div_(c)
        grad_w = grad_wc - grad_wc.mean(0, keepdim=True)
        return None, grad_w, grad_gamma, grad_beta, None, None, None, None


class PatchConv(torch.autograd.Function):
    """``cols @ weight.T`` for a patch matrix with few columns (the waveform's k samples).

    The weight gradient is formed as ``(cols.T @ grad).T``: with k columns
    that orientation is several times faster than ``grad.T @ cols``.

    Shape:
        cols: ``(N, k)``; weight: ``(C_out, k)`` -> ``(N, C_out)``
    """

    @staticmethod
    def forward(cols: Tensor, weight: Tensor) -> Tensor:  # type: ignore[override]
        return F.linear(cols, weight)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Tensor) -> None:
        ctx.save_for_backward(*inputs)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, Tensor | None]:  # type: ignore[override]
        cols, weight = ctx.saved_tensors
        grad_cols = torch.mm(grad, weight) if ctx.needs_input_grad[0] else None
        grad_weight = torch.mm(cols.t(), grad).t() if ctx.needs_input_grad[1] else None
        return grad_cols, grad_weight


class FrameConv(torch.autograd.Function):
    """A strided conv whose kernel spans ``m`` whole frames of ``s`` steps.

    ``out[b, t] = sum_j W_j frames[b, t + j]``: one matrix product of all
    frames with the ``m`` stacked frame kernels (:func:`frame_kernels`), then
    a shifted sum. The backward is two matrix products as well, with no
    im2col copy.

    Shape:
        frames: ``(B, L_out + m - 1, s * C_in)``; weight: ``(C_out, C_in, m * s)``
        -> ``(B, L_out, C_out)``
    """

    @staticmethod
    def forward(frames: Tensor, weight: Tensor, m: int) -> Tensor:  # type: ignore[override]
        b, l_f, width = frames.shape
        c_out = weight.shape[0]
        l_out = l_f - m + 1
        w = frame_kernels(weight, m)  # (m * C_out, s * C_in)
        y = frames.new_empty(b, l_f, m, c_out) if m > 1 else frames.new_empty(b, l_f, c_out)
        torch.mm(frames.view(b * l_f, width), w.t(), out=y.view(b * l_f, m * c_out))
        if m == 1:
            return y
        out = torch.add(y[:, :l_out, 0], y[:, 1 : l_out + 1, 1])
        for j in range(2, m):
            out += y[:, j : j + l_out, j]
        return out

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Tensor) -> None:
        frames, weight, m = inputs
        ctx.save_for_backward(frames, weight)
        ctx.m = m

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, Tensor | None, None]:  # type: ignore[override]
        frames, weight = ctx.saved_tensors
        m: int = ctx.m
        b, l_f, width = frames.shape
        c_out = weight.shape[0]
        l_out = l_f - m + 1
        grad = grad.contiguous()
        if m == 1:
            grad_y = grad.view(b * l_f, c_out)
        else:
            gy = grad.new_empty(b, l_f, m, c_out)
            for j in range(m):
                gy[:, j : j + l_out, j] = grad
                gy[:, :j, j] = 0
                gy[:, j + l_out :, j] = 0
            grad_y = gy.view(b * l_f, m * c_out)
        grad_frames = grad_weight = None
        if ctx.needs_input_grad[0]:
            w = frame_kernels(weight, m)
            grad_frames = torch.mm(grad_y, w).view(b, l_f, width)
        if ctx.needs_input_grad[1]:
            gw = torch.mm(frames.view(b * l_f, width).t(), grad_y)  # (s * C_in, m * C_out)
            c_in = weight.shape[1]
            s = width // c_in
            grad_weight = gw.view(s, c_in, m, c_out).permute(3, 1, 2, 0).reshape(weight.shape)
        return grad_frames, grad_weight, None
