"""Window checks and latent validity masks."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from cpckit.data.windows import (
    check_window,
    conv_output_length,
    latent_length,
    latent_valid_mask,
)
from cpckit.errors import ConfigError


def test_window_too_short_message_says_what_to_change():
    with pytest.raises(ConfigError) as err:
        check_window(0.05, 16000, 160, 160, 12)
    assert str(err.value) == (
        "data.full_duration = 0.05 s at 16000 Hz gives 5 latent steps with the encoder's 160x "
        "downsampling, but model.prediction_steps = 12 needs at least 13: raise "
        "data.full_duration to >= 0.13 s or lower model.prediction_steps"
    )


def test_window_message_with_min_context():
    with pytest.raises(ConfigError) as err:
        check_window(0.1, 8000, 80, 400, 4, min_context=3)
    # 800 samples: floor((800 - 400) / 80) + 1 = 6 steps; 7 steps need 6 * 80 + 400 = 880 = 0.11 s
    assert str(err.value) == (
        "data.full_duration = 0.1 s at 8000 Hz gives 6 latent steps with the encoder's 80x "
        "downsampling, but model.prediction_steps = 4 needs at least 7 (3 context + 4 predicted): "
        "raise data.full_duration to >= 0.11 s or lower model.prediction_steps"
    )


def test_window_plan_numbers():
    plan = check_window(0.64, 16000, 160, 160, 12)
    assert (plan.window_samples, plan.n_latent, plan.n_context) == (10240, 64, 52)
    assert plan.duration_s == pytest.approx(0.64)
    exact = check_window(0.13, 16000, 160, 160, 12)
    assert exact.n_latent == 13 and exact.n_context == 1


def test_check_window_uses_the_encoder_output_length_when_given():
    # padded stack: L = S // 160 + 1 (like a centred STFT)
    plan = check_window(0.1, 16000, 160, 400, 8, output_length=lambda n: n // 160 + 1)
    assert plan.n_latent == 11
    with pytest.raises(
        ConfigError, match=r"gives 3 latent steps .* raise data.full_duration to >= 0.08 s"
    ):
        check_window(0.02, 16000, 160, 400, 8, output_length=lambda n: n // 160 + 1)


@pytest.mark.parametrize(
    ("args", "text"),
    [
        ((0.5, 0, 160, 160, 12), "data.sample_rate = 0 must be a positive whole number of Hz"),
        (
            (0.0, 16000, 160, 160, 12),
            "data.full_duration = 0.0 must be a positive number of seconds",
        ),
        (
            (0.5, 16000, 160, 160, 0),
            "model.prediction_steps = 0 must be a positive whole number of steps",
        ),
    ],
)
def test_check_window_rejects_non_positive_values(args, text):
    with pytest.raises(ConfigError) as err:
        check_window(*args)
    assert str(err.value) == text


def test_conv_output_length_matches_torch_for_a_padded_dilated_layer():
    conv = nn.Conv1d(1, 1, kernel_size=5, stride=3, padding=2, dilation=2)
    for n in (9, 10, 11, 50, 51):
        assert conv(torch.zeros(1, 1, n)).shape[-1] == conv_output_length(n, 5, 3, 2, 2)


def test_latent_length_is_exact_for_an_unpadded_conv_stack():
    rows = [(10, 5), (8, 4), (4, 2), (4, 2), (4, 2)]  # (kernel, stride): 160x
    stack = nn.Sequential(*[nn.Conv1d(1, 1, k, s) for k, s in rows])
    rf, jump = 1, 1
    for k, s in rows:
        rf += (k - 1) * jump
        jump *= s
    assert (jump, rf) == (160, 465)
    with torch.no_grad():
        for n in (465, 624, 625, 626, 3000, 16000):
            assert stack(torch.zeros(1, 1, n)).shape[-1] == latent_length(n, jump, rf)


def test_latent_valid_mask_arithmetic():
    mask = latent_valid_mask(torch.tensor([800, 479, 1000]), 6, 160, 160)
    # step t reads samples [160 t, 160 t + 159]: valid when 160 t + 159 < length
    assert mask.tolist() == [
        [True, True, True, True, True, False],
        [True, True, False, False, False, False],
        [True, True, True, True, True, True],
    ]
    assert mask.dtype == torch.bool and mask.shape == (3, 6)


@settings(max_examples=60, deadline=None)
@given(
    length=st.integers(0, 3000),
    n_latent=st.integers(0, 30),
    ds=st.integers(1, 200),
    rf=st.integers(1, 500),
    offset=st.integers(0, 50),
)
def test_latent_valid_mask_matches_a_loop(length, n_latent, ds, rf, offset):
    mask = latent_valid_mask(torch.tensor([length]), n_latent, ds, rf, offset=offset)[0]
    expected = [t * ds - offset + rf - 1 < length for t in range(n_latent)]
    assert mask.tolist() == expected


def test_latent_valid_mask_agrees_with_the_conv_encoder():
    from cpckit.encoders.audio import ConvEncoder

    rows = [[1, 8, 10, 5, 3, 1], [8, 8, 8, 4, 2, 1], [8, 8, 4, 2, 1, 1]]
    enc = ConvEncoder(rows, 8)
    offset = 3 + 2 * 5 + 1 * 20
    lengths = torch.tensor([4000, 1234, 200])
    n = enc.output_length(4000)
    mask = latent_valid_mask(lengths, n, enc.downsampling, enc.receptive_field, offset=offset)
    assert torch.equal(mask, enc.valid_mask(lengths, n))


def test_latent_valid_mask_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"lengths must have shape \(B,\)"):
        latent_valid_mask(torch.zeros(2, 2, dtype=torch.long), 4, 160, 160)
