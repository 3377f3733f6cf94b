"""Valid latent steps of the audio encoders for clip lengths, and the fewest samples for a count."""

from __future__ import annotations

import pytest

from cpckit.encoders.audio import ConvEncoder, MelEncoder
from cpckit.encoders.steps import latent_steps, min_samples

ROWS = [[1, 16, 10, 5, 3, 1], [16, 16, 8, 4, 2, 1]]


@pytest.mark.parametrize(
    "encoder",
    [
        ConvEncoder(ROWS, z_dim=8),
        MelEncoder(sample_rate=8000, z_dim=8, n_fft=200, win_length=200, hop_length=80),
    ],
    ids=["conv", "mel"],
)
def test_min_samples_is_the_first_length_with_that_many_valid_steps(encoder: object) -> None:
    for steps in (1, 2, 5):
        need = min_samples(encoder, steps=steps)  # type: ignore[arg-type]
        got = latent_steps(encoder, [need - 1, need]).tolist()  # type: ignore[arg-type]
        assert got[0] < steps <= got[1]
    assert min_samples(encoder, steps=2) > min_samples(encoder)  # type: ignore[arg-type]


def test_min_samples_of_the_small_conv_stack_and_bad_steps() -> None:
    encoder = ConvEncoder(ROWS, z_dim=8)
    assert (min_samples(encoder), min_samples(encoder, steps=2)) == (32, 52)
    assert min_samples(encoder, limit=40, steps=2) == 40
    with pytest.raises(ValueError, match="steps = 0 must be >= 1"):
        min_samples(encoder, steps=0)
