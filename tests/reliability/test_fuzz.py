"""Fuzz: random config values and random bytes saved as audio or image files.

Whatever a user writes, cpckit either takes it or says why in one line
(:class:`~cpckit.errors.CpckitError`, or a decode error the folder readers
skip and count); it never crashes with another exception and never hands
back garbage (non-finite samples) as data.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cpckit.config import Config, iter_fields
from cpckit.errors import ConfigError

KEYS = sorted(key for key, _, _, _ in iter_fields(Config))
VALUES = st.one_of(
    st.integers(-(10**4), 10**4).map(str),  # larger valid sizes test memory, not validation
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["true", "false", "null", "[]", "[1, 2]", "{a: 1}", "1e-3", "-0", "''"]),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(KEYS), VALUES), min_size=1, max_size=3))
def test_any_override_loads_or_is_one_config_error(pairs: list[tuple[str, str]]) -> None:
    from cpckit.build import load_checked_config

    overrides = [f"{key}={value}" for key, value in pairs]
    try:
        cfg = load_checked_config(None, overrides, {})
    except ConfigError as exc:
        message = str(exc)
        assert message and "\n" not in message.strip()
        return
    assert isinstance(cfg, Config)


def _decode_errors() -> tuple[type[BaseException], ...]:
    from cpckit.data import audio, image
    from cpckit.errors import DataError  # NaN / inf samples: named and skipped

    return tuple({*audio._DECODE_ERRORS, *image._DECODE_ERRORS, DataError})


def _wav_header(payload: bytes) -> bytes:
    """A real float wav's header, then random bytes: decoders get past the first check."""
    buf = io.BytesIO()
    sf.write(buf, np.zeros(16, dtype=np.float32), 8000, format="WAV", subtype="FLOAT")
    return buf.getvalue()[:44] + payload


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".jpg", ".png"])
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(payload=st.binary(min_size=0, max_size=2048), headed=st.booleans())
def test_random_bytes_decode_to_finite_data_or_a_counted_error(
    tmp_path: Path, suffix: str, payload: bytes, headed: bool
) -> None:
    from cpckit.data.audio_files import read_audio
    from cpckit.data.image import read_image

    path = tmp_path / f"noise{suffix}"
    path.write_bytes(_wav_header(payload) if headed and suffix == ".wav" else payload)
    try:
        if suffix in (".wav", ".flac"):
            data = read_audio(path, 8000)
        else:
            data = read_image(path, 8)
    except _decode_errors():
        return
    assert np.isfinite(np.asarray(data, dtype=np.float64)).all()
