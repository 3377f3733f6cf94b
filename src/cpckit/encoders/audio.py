"""Audio encoders: raw-waveform conv stack and log-mel + CNN.

Both map a batch of waveforms ``(B, 1, S)`` to latents ``z (B, L, D)`` and
expose the arithmetic that ties input samples to latent steps
(``output_length``, ``downsampling``, ``receptive_field``), so windows and
padding masks can be checked before training starts.
"""

from __future__ import annotations

import typing
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cpckit.perf.fastpath import use_fast_path

if TYPE_CHECKING:
    from cpckit.config import Config

__all__ = [
    "ChannelNorm",
    "ConvEncoder",
    "MelEncoder",
    "check_audio_window",
    "conv_output_length",
]


def conv_output_length(length: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """Output length of a 1-d convolution: ``floor((S + 2p - d(k-1) - 1) / s) + 1``."""
    return (length + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


class ChannelNorm(nn.Module):
    """Per-channel layer norm: normalise over channels at every time step.

    The normalisation of the CPC reference encoder (Riviere et al. 2020): for
    each ``(b, t)`` the C channel values are standardised, then scaled and
    shifted by a learned per-channel affine. Computed as one fused layer norm
    over the channel axis; :meth:`forward_channels_last` takes ``(B, L, C)``
    directly (no transposes), which is how :class:`ConvEncoder` runs it.

    Shape:
        x: ``(B, C, L)`` -> ``(B, C, L)``
    """

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(1, channels, 1))
        self.bias = nn.Parameter(torch.zeros(1, channels, 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_channels_last(x.transpose(1, 2)).transpose(1, 2)

    def forward_channels_last(self, x: Tensor) -> Tensor:
        """``(B, L, C)`` -> ``(B, L, C)``: the same normalisation, channels last."""
        c = self.weight.shape[1]
        return F.layer_norm(x, (c,), self.weight.view(c), self.bias.view(c), self.eps)


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "channel":
        return ChannelNorm(channels)
    if kind == "batch":
        return nn.BatchNorm1d(channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"norm = {kind!r} is not valid: expected 'channel', 'batch' or 'none'")


class ConvEncoder(nn.Module):
    """Raw-waveform encoder: a strided 1-d conv stack (CPC, van den Oord et al. 2018).

    Args:
        conv_layers: rows ``[in, out, kernel, stride, padding, dilation]``.
        z_dim: output dimension; a linear projection is added when it differs
            from the last row's ``out``.
        norm: ``"channel"`` (per-channel layer norm), ``"batch"`` or ``"none"``.

    Shape:
        x: ``(B, 1, S)`` -> z: ``(B, L, z_dim)``
    """

    def __init__(self, conv_layers: list[list[int]], z_dim: int, norm: str = "channel") -> None:
        super().__init__()
        if not conv_layers:
            raise ValueError("conv_layers must hold at least one row")
        self.rows = [list(map(int, r)) for r in conv_layers]
        blocks: list[nn.Module] = []
        for c_in, c_out, k, s, p, d in self.rows:
            blocks += [
                nn.Conv1d(c_in, c_out, k, stride=s, padding=p, dilation=d, bias=norm == "none"),
                _norm(norm, c_out),
                nn.ReLU(inplace=True),
            ]
        self.convs = nn.Sequential(*blocks)
        last = self.rows[-1][1]
        self.proj: nn.Module = nn.Linear(last, z_dim) if last != z_dim else nn.Identity()
        self.z_dim = z_dim

    @property
    def downsampling(self) -> int:
        """Input samples per latent step (product of the strides)."""
        return int(np.prod([r[3] for r in self.rows]))

    @property
    def receptive_field(self) -> int:
        """Input samples that one latent step sees."""
        rf, jump = 1, 1
        for _, _, k, s, _, d in self.rows:
            rf += (k - 1) * d * jump
            jump *= s
        return rf

    def output_length(self, n_samples: int) -> int:
        """Latent steps for ``n_samples`` input samples (exact conv arithmetic)."""
        length = n_samples
        for _, _, k, s, p, d in self.rows:
            length = conv_output_length(length, k, s, p, d)
        return length

    def valid_mask(self, lengths: Tensor, n_latent: int) -> Tensor:
        """``(B, L)`` bool: latent steps whose input window ends inside the valid samples."""
        return _valid_from_lengths(lengths, n_latent, self.rows)

    def forward(self, x: Tensor) -> Tensor:
        if not use_fast_path(x):
            return self.proj(self.convs(x).transpose(1, 2))
        # Channels last throughout: each conv is a matrix product over frames
        # of the (B, L, C) activations, each norm a layer norm over the last
        # axis, and z comes out as (B, L, D) without a transpose. Each layer
        # writes its output already zero-padded for the next conv.
        h = x.transpose(1, 2)  # (B, S, 1)
        length = h.shape[1]
        left, right = _conv_padding(self.rows[0], length)
        h = _pad_time(h, left, right)
        modules = list(self.convs)
        for i, row in enumerate(self.rows):
            conv, norm = typing.cast(nn.Conv1d, modules[3 * i]), modules[3 * i + 1]
            length = conv_output_length(length, *row[2:])
            left, right = (
                (0, 0) if i + 1 == len(self.rows) else _conv_padding(self.rows[i + 1], length)
            )
            if (
                isinstance(norm, ChannelNorm)
                and row[0] == 1
                and row[5] == 1
                and conv.bias is None
                and not h.requires_grad
            ):
                # the waveform layer: stats from the k-sample patches, one matrix product
                k, c = row[2], row[1]
                h = _PatchNormReluPad.apply(
                    _patch_matrix(h, k, row[3], length),
                    conv.weight.view(c, k),
                    norm.weight.view(c),
                    norm.bias.view(c),
                    norm.eps,
                    h.shape[0],
                    left,
                    right,
                )
                continue
            y = _conv_padded(h, conv, row, length)
            if isinstance(norm, ChannelNorm):
                c = y.shape[-1]
                h = _NormReluPad.apply(
                    y, norm.weight.view(c), norm.bias.view(c), norm.eps, left, right
                )
                continue
            if isinstance(norm, nn.BatchNorm1d):
                y = norm(y.reshape(-1, y.shape[-1])).view(y.shape)
            h = _pad_time(F.relu_(y), left, right)  # no backward here reads the pre-activation
        return self.proj(h)


def _pad_time(h: Tensor, left: int, right: int) -> Tensor:
    """Zero-pad (or, for a negative amount, crop) ``(B, L, C)`` along time."""
    if left == 0 and right == 0:
        return h
    return F.pad(h, (0, 0, left, right))


def _conv_padding(row: list[int], length: int) -> tuple[int, int]:
    """Zeros to add before and after ``length`` steps for :func:`_conv_padded` (negative: crop).

    The patch and frame paths read exactly the samples their outputs need
    from an explicitly padded input; ``conv1d`` pads by itself.
    """
    c_in, _, k, s, p, d = row
    if d != 1 or (c_in != 1 and k % s):
        return 0, 0
    l_out = conv_output_length(length, k, s, p, d)
    if c_in == 1:
        return p, s * (l_out - 1) + k - p - length
    return p, s * (l_out + k // s - 1) - p - length


def _patch_matrix(hp: Tensor, k: int, s: int, l_out: int) -> Tensor:
    """The ``(B * L_out, k)`` patches of a padded one-channel ``(B, S', 1)`` input at stride ``s``."""
    b = hp.shape[0]
    return hp.reshape(b, -1).unfold(1, k, s).reshape(b * l_out, k)


def _conv_padded(hp: Tensor, conv: nn.Conv1d, row: list[int], l_out: int) -> Tensor:
    """``conv`` on channels-last input padded by :func:`_conv_padding` -> ``(B, L_out, C_out)``.

    Kernels that are a multiple of the stride (all of the CPC encoder's) read
    the padded input as non-overlapping frames of ``s`` steps, a free view, so
    the conv is one matrix product plus a shifted sum (:class:`_FrameConv`).
    A single input channel (the waveform) is unfolded into its small
    ``(B, L_out, k)`` patch matrix (:class:`_PatchConv`). Other shapes
    (dilation, other kernels) run ``conv1d``.
    """
    c_in, c_out, k, s, _, d = row
    b = hp.shape[0]
    if d == 1 and c_in == 1:
        cols = _patch_matrix(hp, k, s, l_out)
        y = _PatchConv.apply(cols, conv.weight.view(c_out, k)).view(b, l_out, c_out)
    elif d == 1 and k % s == 0:
        m = k // s
        y = _FrameConv.apply(hp.reshape(b, l_out + m - 1, s * c_in), conv.weight, m)
    else:
        return conv(hp.transpose(1, 2)).transpose(1, 2).contiguous()
    return y if conv.bias is None else y + conv.bias


class _NormReluPad(torch.autograd.Function):
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


class _PatchNormReluPad(torch.autograd.Function):
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


class _PatchConv(torch.autograd.Function):
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


class _FrameConv(torch.autograd.Function):
    """A strided conv whose kernel spans ``m`` whole frames of ``s`` steps.

    ``out[b, t] = sum_j W_j frames[b, t + j]``: one matrix product of all
    frames with the ``m`` stacked frame kernels, then a shifted sum. The
    backward is two matrix products as well, with no im2col copy.

    Shape:
        frames: ``(B, L_out + m - 1, s * C_in)``; weight: ``(C_out, C_in, m * s)``
        -> ``(B, L_out, C_out)``
    """

    @staticmethod
    def forward(frames: Tensor, weight: Tensor, m: int) -> Tensor:  # type: ignore[override]
        b, l_f, width = frames.shape
        c_out = weight.shape[0]
        l_out = l_f - m + 1
        w = _frame_kernels(weight, m)  # (m * C_out, s * C_in)
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
            w = _frame_kernels(weight, m)
            grad_frames = torch.mm(grad_y, w).view(b, l_f, width)
        if ctx.needs_input_grad[1]:
            gw = torch.mm(frames.view(b * l_f, width).t(), grad_y)  # (s * C_in, m * C_out)
            c_in = weight.shape[1]
            s = width // c_in
            grad_weight = gw.view(s, c_in, m, c_out).permute(3, 1, 2, 0).reshape(weight.shape)
        return grad_frames, grad_weight, None


def _frame_kernels(weight: Tensor, m: int) -> Tensor:
    """``(C_out, C_in, m * s)`` -> ``(m * C_out, s * C_in)``: row block j acts on frame t + j."""
    c_out, c_in, k = weight.shape
    s = k // m
    return weight.view(c_out, c_in, m, s).permute(2, 0, 3, 1).reshape(m * c_out, s * c_in)


def _valid_from_lengths(lengths: Tensor, n_latent: int, rows: list[list[int]]) -> Tensor:
    # Step t of the last layer reads input samples up to start(t) + rf - 1, with
    # start(t) = t * jump - offset (offset from the paddings).
    jump, offset, rf = 1, 0, 1
    for _, _, k, s, p, d in rows:
        offset += p * jump
        rf += (k - 1) * d * jump
        jump *= s
    t = torch.arange(n_latent, device=lengths.device)
    last_sample = t * jump - offset + rf - 1
    return last_sample.unsqueeze(0) < lengths.unsqueeze(1)


MEL_NORMS = ("none", "utterance")
"""Valid values of the log-mel encoder's input normalisation (``audio_encoder.mel_norm``)."""


def _mel_filterbank(sample_rate: int, n_fft: int, n_mels: int) -> np.ndarray:
    import librosa

    fb: np.ndarray = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels)
    return fb.astype(np.float32)


class MelEncoder(nn.Module):
    """Log-mel spectrogram (computed in torch, librosa's filterbank) + a 1-d CNN.

    One latent per hop (10 ms at 16 kHz by default). The STFT is centred
    (``center=True``), so ``L = S // hop + 1``.

    ``norm = "utterance"`` standardises each mel band of each clip with the
    mean and variance of that clip's own frames (cepstral mean and variance
    normalisation), which takes loudness and a fixed channel colouring out of
    the input. The statistics are taken over the frames whose STFT window
    lies in the clip (``t * hop + n_fft // 2 <= length``), so a zero-padded
    clip is normalised exactly as the clip alone; frames past that point are
    set to zero. Pass ``lengths`` to :meth:`forward` (``encode_latents``
    does); without them every frame of ``x`` counts as the clip's.

    Shape:
        x: ``(B, 1, S)`` -> z: ``(B, L, z_dim)``
    """

    takes_lengths = True

    def __init__(
        self,
        *,
        sample_rate: int,
        z_dim: int,
        n_mels: int = 40,
        n_fft: int = 400,
        win_length: int = 400,
        hop_length: int = 160,
        channels: int = 256,
        layers: int = 3,
        norm: str = "none",
    ) -> None:
        super().__init__()
        if win_length > n_fft:
            raise ValueError(f"win_length = {win_length} must be <= n_fft = {n_fft}")
        if norm not in MEL_NORMS:
            raise ValueError(f"mel norm = {norm!r} is not valid: expected one of {MEL_NORMS}")
        self.norm = norm
        self.n_fft, self.win_length, self.hop_length = n_fft, win_length, hop_length
        self.window: Tensor
        self.mel_fb: Tensor
        self.register_buffer("window", torch.hann_window(win_length), persistent=False)
        self.register_buffer(
            "mel_fb",
            torch.from_numpy(_mel_filterbank(sample_rate, n_fft, n_mels)),
            persistent=False,
        )
        convs: list[nn.Module] = []
        c_in = n_mels
        for _ in range(layers):
            convs += [nn.Conv1d(c_in, channels, 3, padding=1), ChannelNorm(channels), nn.ReLU()]
            c_in = channels
        self.cnn = nn.Sequential(*convs)
        self.proj = nn.Linear(c_in, z_dim)
        self.z_dim = z_dim
        self.downsampling = hop_length
        self.receptive_field = n_fft

    def output_length(self, n_samples: int) -> int:
        return n_samples // self.hop_length + 1

    @property
    def context_frames(self) -> int:
        """Frames on each side of an output frame that the CNN reads."""
        radius = 0
        for m in self.cnn.modules():
            if isinstance(m, nn.Conv1d):
                radius += m.dilation[0] * (m.kernel_size[0] - 1) // 2
        return radius

    def valid_mask(self, lengths: Tensor, n_latent: int) -> Tensor:
        """``(B, L)`` bool: frames that depend on nothing after each clip's end.

        A frame is kept when its STFT window lies in the clip and so do those
        of the frames its CNN reads: ``(t + r) * hop + n_fft // 2 <= S`` with
        ``r`` the CNN's radius in frames. Such a frame has the same value
        whether the clip is encoded alone or zero-padded in a batch.
        """
        t = torch.arange(n_latent, device=lengths.device)
        reach = (t + self.context_frames) * self.hop_length + self.n_fft // 2
        return reach.unsqueeze(0) <= lengths.unsqueeze(1)

    def log_mel(self, x: Tensor) -> Tensor:
        """``(B, 1, S)`` -> ``(B, n_mels, L)`` log-mel energies."""
        spec = torch.stft(
            x.squeeze(1),
            self.n_fft,
            hop_length=self.hop_length,
            win_length=self.win_length,
            window=self.window,
            center=True,
            return_complex=True,
        )
        power = spec.real.square() + spec.imag.square()  # (B, F, L)
        mel = torch.matmul(self.mel_fb, power)
        return torch.log(mel + 1e-6)

    def stat_frames(self, lengths: Tensor, n_frames: int) -> Tensor:
        """``(B, L)`` bool: frames whose STFT window ends inside the clip (the statistics' frames)."""
        t = torch.arange(n_frames, device=lengths.device)
        reach = t * self.hop_length + self.n_fft // 2
        keep = reach.unsqueeze(0) <= lengths.unsqueeze(1)
        keep[:, 0] = True  # a clip shorter than half a window still has one frame
        return keep

    def features(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """``(B, 1, S)`` -> ``(B, n_mels, L)``: the log-mel input of the CNN (normalised per ``norm``)."""
        mel = self.log_mel(x)
        if self.norm == "none":
            return mel
        if lengths is None:
            lengths = torch.full((x.shape[0],), x.shape[-1], dtype=torch.long, device=x.device)
        keep = self.stat_frames(lengths.to(x.device), mel.shape[-1]).unsqueeze(1)  # (B, 1, L)
        w = keep.to(mel.dtype)
        count = w.sum(-1, keepdim=True)
        mean = (mel * w).sum(-1, keepdim=True) / count
        var = ((mel - mean).square() * w).sum(-1, keepdim=True) / count
        return ((mel - mean) * torch.rsqrt(var + 1e-5)) * w

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        h = self.cnn(self.features(x, lengths))
        return self.proj(h.transpose(1, 2))


def build_audio_encoder_from(cfg: Config) -> ConvEncoder | MelEncoder:
    """Audio encoder for a config (used by :mod:`cpckit.build`)."""
    enc = cfg.audio_encoder
    z_dim = cfg.model.z_dim
    if enc.kind == "mel":
        return MelEncoder(
            sample_rate=cfg.data.sample_rate,
            z_dim=z_dim,
            n_mels=enc.n_mels,
            n_fft=enc.n_fft,
            win_length=enc.win_length,
            hop_length=enc.hop_length,
            channels=enc.mel_channels,
            layers=enc.mel_layers,
            norm=enc.mel_norm,
        )
    from cpckit.config import default_conv_layers

    rows = enc.conv_layers if enc.conv_layers is not None else default_conv_layers(z_dim)
    return ConvEncoder(rows, z_dim, enc.norm)


def audio_latent_length(cfg: Config, n_samples: int) -> int:
    """Latent steps the configured audio encoder gives for ``n_samples``."""
    from cpckit.config import default_conv_layers

    enc = cfg.audio_encoder
    if enc.kind == "mel":
        return n_samples // enc.hop_length + 1
    rows = enc.conv_layers if enc.conv_layers is not None else default_conv_layers(cfg.model.z_dim)
    length = n_samples
    for _, _, k, s, p, d in rows:
        length = conv_output_length(length, k, s, p, d)
    return length


def check_audio_window(cfg: Config) -> int:
    """Check that the window, sample rate, downsampling and K fit; return the samples per window.

    One check for every audio path: :func:`cpckit.data.windows.check_window`
    with the configured encoder's exact output length.

    Raises:
        ConfigError: naming the values and what to change.
    """
    from cpckit.config import default_conv_layers
    from cpckit.data.windows import check_window

    enc = cfg.audio_encoder
    if enc.kind == "mel":
        downsampling, receptive_field = enc.hop_length, enc.n_fft
    else:
        rows = (
            enc.conv_layers if enc.conv_layers is not None else default_conv_layers(cfg.model.z_dim)
        )
        receptive_field, jump = 1, 1
        for _, _, k, s, _, d in rows:
            receptive_field += (k - 1) * d * jump
            jump *= s
        downsampling = jump
    plan = check_window(
        cfg.data.full_duration,
        cfg.data.sample_rate,
        downsampling,
        receptive_field,
        cfg.model.prediction_steps,
        output_length=lambda n: audio_latent_length(cfg, n),
    )
    return plan.window_samples
