"""Audio encoders: raw-waveform conv stack and log-mel + CNN.

Both map a batch of waveforms ``(B, 1, S)`` to latents ``z (B, L, D)`` and
expose the arithmetic that ties input samples to latent steps
(``output_length``, ``downsampling``, ``receptive_field``), so windows and
padding masks can be checked before training starts.
"""

from __future__ import annotations

import typing

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cpckit.features import mel_filterbank
from cpckit.kernels.conv import (
    conv_output_length,
    conv_padded,
    conv_padding,
    norm_relu_pad,
    pad_time,
    patch_matrix,
    patch_norm_relu_pad,
)
from cpckit.kernels.fastpath import use_fast_path

__all__ = [
    "ChannelNorm",
    "ConvEncoder",
    "MelEncoder",
    "conv_output_length",
    "conv_stack_downsampling",
    "conv_stack_output_length",
    "conv_stack_receptive_field",
]


def conv_stack_downsampling(rows: list[list[int]]) -> int:
    """Input samples per latent step of conv rows ``[in, out, kernel, stride, padding, dilation]``."""
    return int(np.prod([r[3] for r in rows]))


def conv_stack_receptive_field(rows: list[list[int]]) -> int:
    """Input samples that one latent step of the conv rows sees."""
    rf, jump = 1, 1
    for _, _, k, s, _, d in rows:
        rf += (k - 1) * d * jump
        jump *= s
    return rf


def conv_stack_output_length(rows: list[list[int]], n_samples: int) -> int:
    """Latent steps of the conv rows for ``n_samples`` input samples (exact conv arithmetic)."""
    length = n_samples
    for _, _, k, s, p, d in rows:
        length = conv_output_length(length, k, s, p, d)
    return length


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
        return conv_stack_downsampling(self.rows)

    @property
    def receptive_field(self) -> int:
        """Input samples that one latent step sees."""
        return conv_stack_receptive_field(self.rows)

    def output_length(self, n_samples: int) -> int:
        """Latent steps for ``n_samples`` input samples (exact conv arithmetic)."""
        return conv_stack_output_length(self.rows, n_samples)

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
        left, right = conv_padding(self.rows[0], length)
        h = pad_time(h, left, right)
        modules = list(self.convs)
        for i, row in enumerate(self.rows):
            conv, norm = typing.cast(nn.Conv1d, modules[3 * i]), modules[3 * i + 1]
            length = conv_output_length(length, *row[2:])
            left, right = (
                (0, 0) if i + 1 == len(self.rows) else conv_padding(self.rows[i + 1], length)
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
                h = patch_norm_relu_pad(
                    patch_matrix(h, k, row[3], length),
                    conv.weight.view(c, k),
                    norm.weight.view(c),
                    norm.bias.view(c),
                    norm.eps,
                    h.shape[0],
                    left,
                    right,
                )
                continue
            y = conv_padded(h, conv, row, length)
            if isinstance(norm, ChannelNorm):
                c = y.shape[-1]
                h = norm_relu_pad(y, norm.weight.view(c), norm.bias.view(c), norm.eps, left, right)
                continue
            if isinstance(norm, nn.BatchNorm1d):
                y = norm(y.reshape(-1, y.shape[-1])).view(y.shape)
            h = pad_time(F.relu_(y), left, right)  # no backward here reads the pre-activation
        return self.proj(h)


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


class MelEncoder(nn.Module):
    """Log-mel spectrogram (computed in torch, Slaney-style filterbank) + a 1-d CNN.

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
            torch.from_numpy(mel_filterbank(sample_rate, n_fft, n_mels, dtype=np.float32)),
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
        # frames on each side of an output frame that the CNN reads
        self.cnn_radius = sum(
            m.dilation[0] * (m.kernel_size[0] - 1) // 2
            for m in self.cnn.modules()
            if isinstance(m, nn.Conv1d)
        )

    def output_length(self, n_samples: int) -> int:
        return n_samples // self.hop_length + 1

    def frames_within(self, lengths: Tensor, n_frames: int, radius: int = 0) -> Tensor:
        """``(B, L)`` bool: frames ``t`` whose STFT windows from ``t - radius`` to
        ``t + radius`` lie in the clip: ``(t + radius) * hop + n_fft // 2 <= length``."""
        t = torch.arange(n_frames, device=lengths.device)
        reach = (t + radius) * self.hop_length + self.n_fft // 2
        return reach.unsqueeze(0) <= lengths.unsqueeze(1)

    def valid_mask(self, lengths: Tensor, n_latent: int) -> Tensor:
        """``(B, L)`` bool: frames that depend on nothing after each clip's end.

        A frame is kept when its STFT window lies in the clip and so do those
        of the frames its CNN reads (``cnn_radius`` frames on each side).
        Such a frame has the same value whether the clip is encoded alone or
        zero-padded in a batch.
        """
        # a centred STFT reflects n_fft // 2 samples at each end: it needs more than that
        long_enough = (lengths > self.n_fft // 2).unsqueeze(1)
        return self.frames_within(lengths, n_latent, self.cnn_radius) & long_enough

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
        keep = self.frames_within(lengths, n_frames)
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
