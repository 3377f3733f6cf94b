"""cpckit: Contrastive Predictive Coding for audio, images and both.

>>> import cpckit
>>> model = cpckit.load("outputs_audio/cpc_model.pth")
>>> vectors = model.embed(waveform, sample_rate=16000).context
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
"""The version of cpckit: the one place it is set (pyproject.toml reads it at build time)."""

__all__ = ["__version__", "load"]


def load(path: Any) -> Any:
    """Rebuild a trained model from ``cpc_model.pth`` (see :func:`cpckit.api.load`)."""
    from cpckit.api import load as _load

    return _load(path)
