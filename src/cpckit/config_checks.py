"""Checks of a config's values and combinations that its types alone cannot express.

:func:`validate` runs at load time (:func:`cpckit.config.load_config`); the
checks that need the model's registries are :func:`cpckit.build.check_config`.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

from cpckit.errors import ConfigError

if TYPE_CHECKING:
    from cpckit.config import Config

__all__ = ["MAX_SIZE", "RUN_TIME_ENV", "expand_out_dir", "validate"]

MAX_SIZE = 1 << 20
"""The largest width, depth or length a model or encoder key takes."""


def validate(cfg: Config) -> None:
    """Check values and combinations that types alone cannot (see also :func:`cpckit.build.check_config`)."""
    positive_ints = {
        "model.z_dim": cfg.model.z_dim,
        "model.c_dim": cfg.model.c_dim,
        "model.layers": cfg.model.layers,
        "model.prediction_steps": cfg.model.prediction_steps,
        "train.epochs": cfg.train.epochs,
        "train.batch_size": cfg.train.batch_size,
        "train.devices": cfg.train.devices,
        "train.num_nodes": cfg.train.num_nodes,
        "train.accumulate_grad_batches": cfg.train.accumulate_grad_batches,
        "data.sample_rate": cfg.data.sample_rate,
        "data.image_size": cfg.data.image_size,
        "negatives.n_negatives": cfg.negatives.n_negatives,
        "negatives.queue_size": cfg.negatives.queue_size,
        "audio_encoder.n_mels": cfg.audio_encoder.n_mels,
        "audio_encoder.n_fft": cfg.audio_encoder.n_fft,
        "audio_encoder.win_length": cfg.audio_encoder.win_length,
        "audio_encoder.hop_length": cfg.audio_encoder.hop_length,
        "audio_encoder.mel_channels": cfg.audio_encoder.mel_channels,
        "audio_encoder.mel_layers": cfg.audio_encoder.mel_layers,
        "image_encoder.patch_size": cfg.image_encoder.patch_size,
        "image_encoder.stride": cfg.image_encoder.stride,
        "image_encoder.width": cfg.image_encoder.width,
        "image_encoder.depth": cfg.image_encoder.depth,
        "model.heads": cfg.model.heads,
        "model.ff_dim": cfg.model.ff_dim,
        "model.max_len": cfg.model.max_len,
        "model.predictor_hidden": cfg.model.predictor_hidden,
        "negatives.share_positions": cfg.negatives.share_positions,
        "eval.max_examples": cfg.eval.max_examples,
        "data.n_classes": cfg.data.n_classes,
    }
    for key, value in positive_ints.items():
        if value < 1:
            raise ConfigError(f"{key} = {value} is not valid: expected an integer >= 1")
        if key.startswith(("model.", "audio_encoder.", "image_encoder.")) and value > MAX_SIZE:
            # Widths past this overflow torch's size arithmetic instead of failing cleanly.
            raise ConfigError(f"{key} = {value} is not valid: expected an integer <= {MAX_SIZE:,}")
    non_negative: dict[str, tuple[float, str]] = {
        "train.threads": (cfg.train.threads, "an integer >= 0 (0: torch's default)"),
        "train.grad_clip": (cfg.train.grad_clip, "a number >= 0 (0: off)"),
        "train.weight_decay": (cfg.train.weight_decay, "a number >= 0"),
        "train.momentum": (cfg.train.momentum, "a number >= 0"),
        "train.warmup_steps": (cfg.train.warmup_steps, "an integer >= 0"),
        "train.seed": (cfg.train.seed, "an integer >= 0"),
        "data.num_workers": (cfg.data.num_workers, "an integer >= 0"),
        "data.n_train": (cfg.data.n_train, "an integer >= 0"),
        "data.n_test": (cfg.data.n_test, "an integer >= 0"),
    }
    for key in ("n_queue", "n_synthetic", "n_hard", "hard_pool", "n_crossmodal"):
        non_negative[f"negatives.{key}"] = (getattr(cfg.negatives, key), "an integer >= 0")
    non_negative["data.noise_std"] = (cfg.data.noise_std, "a number >= 0")
    for key, (number, what) in non_negative.items():
        if number < 0:
            raise ConfigError(f"{key} = {number} is not valid: expected {what}")
    enc = cfg.audio_encoder
    if enc.win_length > enc.n_fft:
        raise ConfigError(
            f"audio_encoder.win_length = {enc.win_length} must be <= audio_encoder.n_fft = "
            f"{enc.n_fft}"
        )
    window = round(cfg.data.sample_rate * cfg.data.full_duration)
    if enc.kind == "mel" and enc.n_fft > window and cfg.data.modality != "image":
        raise ConfigError(
            f"audio_encoder.n_fft = {enc.n_fft} is longer than the training window "
            f"({window} samples: data.sample_rate x data.full_duration)"
        )
    if not 0 <= cfg.model.dropout < 1:
        raise ConfigError(
            f"model.dropout = {cfg.model.dropout} is not valid: expected a number in [0, 1)"
        )
    if not 0.0 <= cfg.negatives.momentum < 1.0:
        raise ConfigError(
            f"negatives.momentum = {cfg.negatives.momentum} is not valid: expected a number in "
            "[0, 1) (0: no key encoder; MoCo uses 0.999)"
        )
    if cfg.train.lr <= 0:
        raise ConfigError(f"train.lr = {cfg.train.lr} is not valid: expected a number > 0")
    if cfg.eval.pool == "grid" and cfg.data.modality != "image":
        raise ConfigError(
            f"eval.pool = 'grid' pools an image's patch grid; data.modality = "
            f"{cfg.data.modality!r} pools with mean, max or last"
        )
    if cfg.data.full_duration <= 0:
        raise ConfigError(
            f"data.full_duration = {cfg.data.full_duration} is not valid: expected seconds > 0"
        )
    if not 0 <= cfg.data.test_fraction < 1 or not 0 <= cfg.data.val_fraction < 1:
        raise ConfigError(
            "data.test_fraction and data.val_fraction must be in [0, 1), got "
            f"{cfg.data.test_fraction} and {cfg.data.val_fraction}"
        )
    if (
        cfg.data.modality == "multimodal"
        and cfg.data.use_mock_data is False
        and not cfg.data.pairs_csv
    ):
        raise ConfigError(
            "data.modality = 'multimodal' with data.use_mock_data = false needs data.pairs_csv "
            "(a CSV of audio,image[,label] paths)"
        )
    if not cfg.data.use_mock_data:
        if cfg.data.modality == "audio" and not cfg.data.audio_root:
            raise ConfigError(
                "data.use_mock_data = false with data.modality = 'audio' needs data.audio_root "
                "(--audio-root DIR)"
            )
        if cfg.data.modality == "image" and not cfg.data.image_root:
            raise ConfigError(
                "data.use_mock_data = false with data.modality = 'image' needs data.image_root "
                "(--image-root DIR)"
            )
    if cfg.model.kind == "transformer" and cfg.model.c_dim % cfg.model.heads:
        raise ConfigError(
            f"model.c_dim = {cfg.model.c_dim} must be divisible by model.heads = {cfg.model.heads} "
            "for the transformer context model"
        )
    if cfg.loss.debiased and cfg.loss.similarity != "cosine":
        raise ConfigError(
            "loss.debiased = true needs loss.similarity = 'cosine' (its bound assumes scores in "
            "[-1/t, 1/t])"
        )
    if not 0 <= cfg.loss.tau_plus < 1:
        raise ConfigError(
            f"loss.tau_plus = {cfg.loss.tau_plus} is not valid: expected 0 <= tau+ < 1"
        )
    if cfg.loss.temperature <= 0:
        raise ConfigError(f"loss.temperature = {cfg.loss.temperature} is not valid: expected > 0")
    if (
        cfg.loss.step_weights is not None
        and len(cfg.loss.step_weights) != cfg.model.prediction_steps
    ):
        raise ConfigError(
            f"loss.step_weights has {len(cfg.loss.step_weights)} values but model.prediction_steps = "
            f"{cfg.model.prediction_steps}: give one weight per step"
        )
    if cfg.audio_encoder.conv_layers is not None:
        rows = cfg.audio_encoder.conv_layers
        if not rows:
            raise ConfigError("audio_encoder.conv_layers is empty: give at least one row")
        for i, row in enumerate(rows):
            if len(row) != 6:
                raise ConfigError(
                    f"audio_encoder.conv_layers[{i}] = {row} must have 6 values "
                    "[in, out, kernel, stride, padding, dilation]"
                )
            if min(row[0], row[1], row[2], row[3], row[5]) < 1 or row[4] < 0:
                raise ConfigError(
                    f"audio_encoder.conv_layers[{i}] = {row}: in, out, kernel, stride and dilation "
                    "must be >= 1 and padding >= 0"
                )
            if i == 0 and row[0] != 1:
                raise ConfigError(
                    f"audio_encoder.conv_layers[0] = {row} must take 1 input channel (mono waveform)"
                )
            if i > 0 and row[0] != rows[i - 1][1]:
                raise ConfigError(
                    f"audio_encoder.conv_layers[{i}] takes {row[0]} channels but layer {i - 1} "
                    f"gives {rows[i - 1][1]}"
                )


RUN_TIME_ENV = "CPCKIT_RUN_TIME"


def expand_out_dir(template: str, cfg: Config) -> str:
    """``train.out_dir`` with ``{modality}`` and ``{time}`` filled in.

    ``{time}`` is the load time, ``YYYYmmdd-HHMMSS``. A DDP run's processes
    load the config each; the launcher's time is passed to the processes it
    starts through the environment (``CPCKIT_RUN_TIME``), so all of them
    write to one folder.
    """
    if "{" not in template:
        return template
    stamp = os.environ.get(RUN_TIME_ENV) or time.strftime("%Y%m%d-%H%M%S")
    if cfg.train.devices * cfg.train.num_nodes > 1:
        os.environ[RUN_TIME_ENV] = stamp
    try:
        return template.format(modality=cfg.data.modality, time=stamp)
    except (KeyError, IndexError, ValueError) as exc:
        raise ConfigError(
            f"train.out_dir = {template!r} has a placeholder that is not valid ({exc}); "
            "valid: {modality}, {time}"
        ) from None
