"""Library entry points: load a trained model and take features in two lines.

>>> model = cpckit.from_pretrained("fsdd-small")  # or a saved folder, a run, a Hub id
>>> vectors = model.embed(waveform, sample_rate=8000)
>>> table = model.embed_folder("clips/")  # what `cpckit embed` writes, as a dict of arrays
>>> model.save_pretrained("my-model/")  # config.json, model.safetensors, README.md

Every file is read without running code from it: weights are safetensors
or go through ``torch.load(weights_only=True)`` (:mod:`cpckit.safe_load`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cpckit.config import Config, config_from_dict, config_to_dict
from cpckit.errors import CpckitError, UnsafeFileError
from cpckit.model import CPCModel
from cpckit.model_card import ModelCard

__all__ = [
    "Embedding",
    "PretrainedCPC",
    "from_pretrained",
    "load",
    "push_to_hub",
    "save_pretrained",
]


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

    def __init__(self, model: CPCModel, config: Config, card: str | None = None) -> None:
        self.model = model.eval()
        self.config = config
        self.card = card
        """The model card it was loaded with (``README.md`` of a saved folder), if any."""

    def save_pretrained(self, folder: str | Path, *, card: ModelCard | str | None = None) -> Path:
        """Write ``config.json``, ``model.safetensors`` and ``README.md`` into ``folder``.

        ``card``: a :class:`~cpckit.model_card.ModelCard`, a whole ``README.md``
        text, or None: the card it was loaded with, else one made from the config.
        """
        from cpckit.model_folder import write_folder

        if card is None:
            card = self.card if self.card is not None else _default_card(self.config)
        text = card if isinstance(card, str) else card.render(self.modalities, self._rate())
        return write_folder(
            self.model.state_dict(), config_to_dict(self.config), self.modalities, folder, text
        )

    def push_to_hub(
        self,
        repo_id: str,
        *,
        card: ModelCard | str | None = None,
        private: bool = False,
        token: str | None = None,
        commit_message: str = "Upload cpckit model",
    ) -> Any:
        """Save into a temporary folder and upload it to Hub model repo ``repo_id`` (``hub`` extra).

        The repository is created when it does not exist. Returns
        ``HfApi.upload_folder``'s commit info.
        """
        import tempfile

        from cpckit.model_folder import upload

        with tempfile.TemporaryDirectory(prefix="cpckit-push-") as tmp:
            folder = self.save_pretrained(Path(tmp) / "model", card=card)
            return upload(
                folder, repo_id, private=private, token=token, commit_message=commit_message
            )

    def _rate(self) -> int | None:
        return self.config.data.sample_rate if "audio" in self.modalities else None

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


def _default_card(cfg: Config) -> ModelCard:
    d = cfg.data
    if d.use_mock_data:
        return ModelCard(data="cpckit's built-in synthetic data (`data.use_mock_data`).")
    keys = [k for k in ("audio_root", "image_root", "pairs_csv") if getattr(d, k)]
    return ModelCard(data=", ".join(f"`data.{k}` = `{getattr(d, k)}`" for k in keys) + ".")


def _build(
    config: dict[str, Any], state: dict[str, torch.Tensor], where: str
) -> tuple[Config, CPCModel]:
    from cpckit.build import build_model

    cfg = config_from_dict(config)
    model = build_model(cfg)
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).splitlines()[1].strip() if "\n" in str(exc) else str(exc)[:200]
        raise CpckitError(
            f"the weights in {where} do not fit the model its config builds ({first})"
        ) from None
    return cfg, model


def load(path: str | Path) -> PretrainedCPC:
    """Rebuild a model from ``cpc_model.pth`` (or a run folder holding one).

    The file is read with ``torch.load(weights_only=True)``: one that asks to
    run code is refused (:class:`~cpckit.errors.UnsafeFileError`).
    """
    from cpckit.safe_load import load_weights_only

    p = Path(path)
    if p.is_dir():
        p = p / "cpc_model.pth"
    if not p.is_file():
        raise CpckitError(
            f"no saved model at {str(p)!r} (expected a run folder or its cpc_model.pth)"
        )
    try:
        blob = load_weights_only(p)
    except UnsafeFileError:
        raise
    except Exception as exc:  # noqa: BLE001 - any other failure is a bad file
        raise CpckitError(
            f"{str(p)!r} is not a readable cpckit model file ({type(exc).__name__})"
        ) from None
    if not isinstance(blob, dict) or blob.get("format") != "cpckit-model":
        raise CpckitError(
            f"{str(p)!r} is not a cpckit model file (no 'format: cpckit-model' entry)"
        )
    cfg, model = _build(blob["config"], blob["state_dict"], repr(str(p)))
    return PretrainedCPC(model, cfg)


def from_pretrained(source: str | Path, *, revision: str | None = None) -> PretrainedCPC:
    """Load a model from wherever it is.

    ``source`` is, tried in order: a folder written by :meth:`PretrainedCPC.save_pretrained`
    (or one of its files), a run folder or its ``cpc_model.pth`` (as :func:`load`), the
    name of a model shipped with cpckit (``"fsdd-small"``, ``"cifar-small"``), or a
    Hugging Face Hub id ``owner/name`` (needs the ``hub`` extra; ``revision`` picks a
    branch, tag or commit).

    Raises:
        CpckitError: an unknown name (the message lists the shipped ones), a folder
            missing a file (named), a config.json of a newer format version, a file
            that asks to run code when loaded.
    """
    from cpckit.model_folder import CARD_NAME, read_folder, resolve

    where = resolve(source, revision=revision)
    if where.kind == "pth":
        return load(where.path)
    meta, state = read_folder(where.path)
    cfg, model = _build(meta["config"], state, repr(str(where.path)))
    card_path = where.path / CARD_NAME
    card = card_path.read_text(encoding="utf-8") if card_path.is_file() else None
    return PretrainedCPC(model, cfg, card)


def save_pretrained(
    model: PretrainedCPC, folder: str | Path, *, card: ModelCard | str | None = None
) -> Path:
    """:meth:`PretrainedCPC.save_pretrained` as a function."""
    return model.save_pretrained(folder, card=card)


def push_to_hub(model: PretrainedCPC, repo_id: str, **kwargs: Any) -> Any:
    """:meth:`PretrainedCPC.push_to_hub` as a function."""
    return model.push_to_hub(repo_id, **kwargs)
