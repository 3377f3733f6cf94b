"""Library entry points: load a trained model and take features in two lines.

>>> model = cpckit.load("outputs_audio/cpc_model.pth")
>>> vectors = model.embed(waveform, sample_rate=16000)
>>> table = model.embed_folder("clips/")  # what `cpckit embed` writes, as a dict of arrays
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cpckit.config import Config, config_from_dict
from cpckit.errors import CpckitError
from cpckit.model import CPCModel

__all__ = ["Embedding", "PretrainedCPC", "load"]


@dataclass
class Embedding:
    """Features of one input.

    Attributes:
        context: ``(C,)`` time-pooled context vector.
        latent: ``(D,)`` time-pooled latent vector.
        context_frames: ``(L, C)`` context of each pooled latent step (those that lie
            inside the input; see :func:`cpckit.evaluation.frames.encode_batch`).
        latent_frames: ``(L, D)`` latent of each pooled step.
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
        """A waveform as the model's input, decoded as a folder's clips are (same resampler)."""
        from cpckit.data.audio_files import normalize_waveform, resample

        arr = wave.detach().cpu().numpy() if isinstance(wave, torch.Tensor) else np.asarray(wave)
        arr = arr.astype(np.float32)
        if arr.ndim == 2:  # (channels, samples) or (samples, channels): mix down
            arr = arr.mean(axis=0 if arr.shape[0] < arr.shape[1] else 1, dtype=np.float32)
        if arr.ndim != 1:
            raise CpckitError(
                f"a waveform must be 1-d (samples) or 2-d (channels, samples), got shape {arr.shape}"
            )
        target = self.config.data.sample_rate
        if sample_rate is None:
            raise CpckitError(f"give the waveform's sample_rate (the model expects {target} Hz)")
        if sample_rate != target:
            arr = resample(arr, int(sample_rate), target)
        if self.config.data.normalize:
            arr = normalize_waveform(arr)
        return torch.from_numpy(np.ascontiguousarray(arr)).view(1, 1, -1)

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

        The whole input is encoded (no crop or pad); pooling and the frames
        cover the valid latent steps only (those whose receptive field lies
        in the input), exactly as ``cpckit embed`` does for a folder.

        Raises:
            CpckitError: an unknown modality or pool, or a waveform too short
                for one latent step (the message gives the minimum).
        """
        from cpckit.encoders.steps import latent_steps, min_samples
        from cpckit.evaluation.frames import encode_batch

        if modality is None:
            modality = (
                "audio" if sample_rate is not None or "image" not in self.modalities else "image"
            )
        if modality not in self.modalities:
            raise CpckitError(f"this model has no {modality!r} encoder; it has {self.modalities}")
        lengths = None
        if modality == "audio":
            inp = self._prepare_audio(x, sample_rate)
            n = int(inp.shape[-1])
            encoder = self.model.encoders["audio"]
            if latent_steps(encoder, [n])[0] < 1:
                need = min_samples(encoder)
                rate = self.config.data.sample_rate
                raise CpckitError(
                    f"the waveform has {n} samples at {rate} Hz, too short for one latent step "
                    f"(the encoder needs at least {need} samples, {need / rate:.4g} s)"
                )
            lengths = torch.tensor([n], dtype=torch.int64)
        else:
            inp = self._prepare_image(x)
        out = encode_batch(self.model, modality, inp, lengths, pool=pool, frames=True)
        assert out.context_frames is not None and out.latent_frames is not None
        return Embedding(
            context=out.context[0].numpy(),
            latent=out.latent[0].numpy(),
            context_frames=out.context_frames[0].numpy(),
            latent_frames=out.latent_frames[0].numpy(),
        )

    def embed_folder(
        self,
        root: str | Path,
        *,
        modality: str | None = None,
        pool: str = "mean",
        frames: bool = False,
        label_regex: str | None = None,
        windows_per_file: int | None = None,
        window_seconds: float | None = None,
        batch_size: int = 32,
        seed: int = 0,
        progress: bool = False,
    ) -> dict[str, np.ndarray]:
        """Embed every file under ``root`` (recursive, sorted), batched.

        Returns the table that ``cpckit embed`` writes (``paths``, ``context``,
        ``latent``, labels, ...; see :mod:`cpckit.evaluation.embed`); row ``i``
        equals ``embed(file i)``.
        """
        from cpckit.evaluation.embed import embed_folder

        return embed_folder(
            self.model,
            self.config,
            root,
            modality=modality,
            pool=pool,
            frames=frames,
            label_regex=label_regex,
            windows_per_file=windows_per_file,
            window_seconds=window_seconds,
            batch_size=batch_size,
            seed=seed,
            progress=progress,
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
