"""Library entry points: load a trained model and take features in two lines.

>>> model = cpckit.load("outputs_audio/cpc_model.pth")
>>> vectors = model.embed(waveform, sample_rate=16000)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cpckit.config import Config, config_from_dict
from cpckit.errors import CpckitError
from cpckit.model import CPCModel, pool_time

__all__ = ["Embedding", "PretrainedCPC", "load"]


@dataclass
class Embedding:
    """Features of one input.

    Attributes:
        context: ``(C,)`` time-pooled context vector.
        latent: ``(D,)`` time-pooled latent vector.
        context_frames: ``(L, C)`` context per step.
        latent_frames: ``(L, D)`` latent per step.
    """

    context: np.ndarray
    latent: np.ndarray
    context_frames: np.ndarray
    latent_frames: np.ndarray


class PretrainedCPC:
    """A trained CPC model with its config, ready to embed inputs."""

    def __init__(self, model: CPCModel, config: Config) -> None:
        self.model = model.eval()
        self.config = config

    @property
    def modalities(self) -> list[str]:
        return self.model.modalities

    def _prepare_audio(self, wave: Any, sample_rate: int | None) -> torch.Tensor:
        arr = wave.detach().cpu().numpy() if isinstance(wave, torch.Tensor) else np.asarray(wave)
        arr = arr.astype(np.float32)
        if arr.ndim == 2:  # (channels, samples) or (samples, channels): mix down
            arr = arr.mean(axis=0 if arr.shape[0] < arr.shape[1] else 1)
        if arr.ndim != 1:
            raise CpckitError(
                f"a waveform must be 1-d (samples) or 2-d (channels, samples), got shape {arr.shape}"
            )
        target = self.config.data.sample_rate
        if sample_rate is None:
            raise CpckitError(f"give the waveform's sample_rate (the model expects {target} Hz)")
        if sample_rate != target:
            import soxr

            arr = soxr.resample(arr, sample_rate, target).astype(np.float32)
        if self.config.data.normalize:
            arr = (arr - arr.mean()) / (arr.std() + 1e-8)
        return torch.from_numpy(arr).view(1, 1, -1)

    def _prepare_image(self, image: Any) -> torch.Tensor:
        from cpckit.data.image import image_to_tensor

        return image_to_tensor(image, self.config.data.image_size).unsqueeze(0)

    @torch.no_grad()
    def embed(
        self,
        x: Any,
        *,
        sample_rate: int | None = None,
        modality: str | None = None,
        pool: str = "mean",
    ) -> Embedding:
        """Embed one waveform (array/tensor + its sample rate) or one image (PIL, array, tensor, path).

        The whole input is encoded (no crop or pad).
        """
        if modality is None:
            modality = (
                "audio" if sample_rate is not None or "image" not in self.modalities else "image"
            )
        if modality not in self.modalities:
            raise CpckitError(f"this model has no {modality!r} encoder; it has {self.modalities}")
        inp = self._prepare_audio(x, sample_rate) if modality == "audio" else self._prepare_image(x)
        z, valid = self.model.encode(modality, inp)
        c = self.model.context(z)
        return Embedding(
            context=pool_time(c, valid, pool)[0].numpy(),
            latent=pool_time(z, valid, pool)[0].numpy(),
            context_frames=c[0].numpy(),
            latent_frames=z[0].numpy(),
        )


def load(path: str | Path) -> PretrainedCPC:
    """Rebuild a model from ``cpc_model.pth`` (or a run folder holding one)."""
    from cpckit.build import build_model

    p = Path(path)
    if p.is_dir():
        p = p / "cpc_model.pth"
    if not p.is_file():
        raise CpckitError(
            f"no saved model at {str(p)!r} (expected a run folder or its cpc_model.pth)"
        )
    try:
        blob = torch.load(p, map_location="cpu", weights_only=False)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is a bad file
        raise CpckitError(
            f"{str(p)!r} is not a readable cpckit model file ({type(exc).__name__})"
        ) from None
    if not isinstance(blob, dict) or blob.get("format") != "cpckit-model":
        raise CpckitError(
            f"{str(p)!r} is not a cpckit model file (no 'format: cpckit-model' entry)"
        )
    cfg = config_from_dict(blob["config"])
    model = build_model(cfg)
    model.load_state_dict(blob["state_dict"])
    return PretrainedCPC(model, cfg)
