"""cpckit: Contrastive Predictive Coding for audio, images and both.

>>> import cpckit
>>> model = cpckit.from_pretrained("fsdd-small")  # shipped; or a folder, a run, a Hub id
>>> vectors = model.embed(waveform, sample_rate=8000).context
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
"""The version of cpckit: the one place it is set (pyproject.toml reads it at build time)."""

__all__ = ["__version__", "from_pretrained", "load"]


def load(path: Any) -> Any:
    """Rebuild a trained model from ``cpc_model.pth`` (see :func:`cpckit.api.load`)."""
    from cpckit.api import load as _load

    return _load(path)


def from_pretrained(source: Any, **kwargs: Any) -> Any:
    """Load a saved folder, a run, a shipped model or a Hub id (see :func:`cpckit.api.from_pretrained`)."""
    from cpckit.api import from_pretrained as _from_pretrained

    return _from_pretrained(source, **kwargs)
