"""Audio encoders: output lengths follow the conv arithmetic; masks; mel frames."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from cpckit.config import default_conv_layers
from cpckit.encoders.audio import ChannelNorm, ConvEncoder, MelEncoder, conv_output_length


def test_paper_encoder_gives_one_latent_per_10ms_at_16khz() -> None:
    enc = ConvEncoder(default_conv_layers(16), z_dim=16)
    assert enc.downsampling == 160
    assert enc.output_length(20480) == 128
    assert enc(torch.randn(2, 1, 20480)).shape == (2, 128, 16)


@settings(max_examples=25, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.integers(1, 6),  # kernel
            st.integers(1, 4),  # stride
            st.integers(0, 3),  # padding
            st.integers(1, 2),  # dilation
        ),
        min_size=1,
        max_size=4,
    ),
    n_samples=st.integers(64, 600),
)
def test_conv_encoder_length_matches_arithmetic(
    rows: list[tuple[int, int, int, int]], n_samples: int
) -> None:
    layers, c_in = [], 1
    expected = n_samples
    for k, s, p, d in rows:
        layers.append([c_in, 4, k, s, p, d])
        c_in = 4
        expected = (expected + 2 * p - d * (k - 1) - 1) // s + 1
    if expected < 1:
        return
    enc = ConvEncoder(layers, z_dim=6, norm="none")
    z = enc(torch.randn(1, 1, n_samples))
    assert z.shape == (1, expected, 6)
    assert enc.output_length(n_samples) == expected


@pytest.mark.parametrize("norm", ["channel", "batch", "none"])
def test_conv_encoder_norms(norm: str) -> None:
    enc = ConvEncoder([[1, 8, 4, 2, 1, 1], [8, 8, 4, 2, 1, 1]], z_dim=8, norm=norm)
    assert enc(torch.randn(3, 1, 64)).shape == (3, 16, 8)


def test_conv_encoder_bad_norm_message() -> None:
    with pytest.raises(
        ValueError, match="norm = 'group' is not valid: expected 'channel', 'batch' or 'none'"
    ):
        ConvEncoder([[1, 4, 2, 2, 0, 1]], z_dim=4, norm="group")


def test_channel_norm_standardises_over_channels() -> None:
    x = torch.randn(2, 6, 5) * 3 + 2
    y = ChannelNorm(6)(x)
    assert torch.allclose(y.mean(1), torch.zeros(2, 5), atol=1e-5)
    assert torch.allclose(y.var(1, unbiased=False), torch.ones(2, 5), atol=1e-3)


def test_conv_output_length_formula() -> None:
    assert conv_output_length(20480, 10, 5, 3, 1) == 4096
    assert conv_output_length(100, 3, 1, 0, 2) == 96


def test_valid_mask_marks_latents_inside_the_valid_samples() -> None:
    enc = ConvEncoder([[1, 4, 4, 2, 0, 1], [4, 4, 2, 2, 0, 1]], z_dim=4, norm="none")
    # receptive field 4 + 1*2 = 6 samples, jump 4: step t covers samples [4t, 4t + 5]
    n = 40
    length = enc.output_length(n)
    mask = enc.valid_mask(torch.tensor([40, 21, 6]), length)
    assert mask.shape == (3, length)
    assert mask[0].all()
    assert mask[1].tolist() == [4 * t + 5 < 21 for t in range(length)]
    assert mask[2].tolist() == [t == 0 for t in range(length)]


def test_mel_encoder_frames_and_hop() -> None:
    enc = MelEncoder(
        sample_rate=16000,
        z_dim=12,
        n_mels=20,
        n_fft=400,
        win_length=400,
        hop_length=160,
        channels=16,
        layers=2,
    )
    z = enc(torch.randn(2, 1, 16000))
    assert z.shape == (2, 16000 // 160 + 1, 12)
    assert enc.output_length(16000) == z.shape[1]


def test_mel_energy_peaks_at_the_tone() -> None:
    enc = MelEncoder(
        sample_rate=16000, z_dim=4, n_mels=40, n_fft=512, win_length=400, hop_length=160
    )
    t = torch.arange(16000) / 16000
    low = enc.log_mel(torch.sin(2 * torch.pi * 200 * t).view(1, 1, -1)).mean(-1)[0]
    high = enc.log_mel(torch.sin(2 * torch.pi * 3000 * t).view(1, 1, -1)).mean(-1)[0]
    assert int(low.argmax()) < int(high.argmax())


def _mel_utt(**kw: int) -> MelEncoder:
    torch.manual_seed(0)
    return MelEncoder(
        sample_rate=8000,
        z_dim=8,
        n_fft=200,
        win_length=200,
        hop_length=80,
        channels=16,
        norm="utterance",
        **kw,
    ).eval()


def test_mel_utterance_norm_of_a_padded_clip_equals_the_clip_alone() -> None:
    from cpckit.model import encode_latents

    enc = _mel_utt()
    clip = torch.randn(1, 1, 2000) * 0.3
    padded = torch.cat([clip, torch.zeros(1, 1, 1200)], dim=-1)
    n = torch.tensor([2000])
    alone, valid_alone = encode_latents(enc, clip, n)
    z_pad, valid_pad = encode_latents(enc, padded, n)
    assert valid_alone is not None and valid_pad is not None
    k = int(valid_alone.sum())
    assert k == int(valid_pad.sum()) > 10
    torch.testing.assert_close(z_pad[0, :k], alone[0, :k], atol=1e-5, rtol=1e-4)
    # without the lengths the padding's silent frames would enter the statistics
    assert not torch.allclose(enc(padded)[0, :k], alone[0, :k], atol=1e-3)


def test_mel_utterance_norm_standardises_each_band_and_ignores_gain() -> None:
    enc = _mel_utt()
    x = torch.randn(2, 1, 4000)
    n = torch.tensor([4000, 4000])
    feats = enc.features(x, n)
    keep = enc.stat_frames(n, feats.shape[-1])[0]
    f = feats[0][:, keep]
    torch.testing.assert_close(f.mean(-1), torch.zeros(f.shape[0]), atol=1e-4, rtol=0)
    torch.testing.assert_close(f.std(-1, unbiased=False), torch.ones(f.shape[0]), atol=1e-3, rtol=0)
    louder = enc.features(x * 10.0, n)
    torch.testing.assert_close(louder, feats, atol=1e-3, rtol=1e-3)


def test_mel_norm_name_is_checked() -> None:
    with pytest.raises(ValueError, match="mel norm"):
        MelEncoder(sample_rate=8000, z_dim=8, n_fft=200, win_length=200, hop_length=80, norm="x")
