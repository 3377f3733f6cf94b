"""Typed configuration: one dataclass per component, YAML files and overrides.

Every field carries a help text (``field(metadata={"help": ...})``); the same
schema gives the CLI's ``--help``, validates YAML files and ``key=value``
overrides, and is saved as ``config.yaml`` in every run folder.

Errors are :class:`~cpckit.errors.ConfigError` with one line that names the
key, the value and what would be valid.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import yaml

from cpckit.errors import ConfigError

__all__ = [
    "AudioEncoderConfig",
    "Config",
    "ContextConfig",
    "DataConfig",
    "EvalConfig",
    "ImageEncoderConfig",
    "LossConfig",
    "NegativesConfig",
    "TrainConfig",
    "config_from_dict",
    "config_to_dict",
    "default_conv_layers",
    "iter_fields",
    "load_config",
]


def _f(default: Any, help: str, **kw: Any) -> Any:  # noqa: A002 - mirrors argparse
    if isinstance(default, (list, dict)):
        value = default
        return field(
            default_factory=lambda: typing.cast(Any, value).copy(), metadata={"help": help, **kw}
        )
    return field(default=default, metadata={"help": help, **kw})


def default_conv_layers(channels: int) -> list[list[int]]:
    """The CPC paper's raw-waveform encoder: 5 layers, 160x downsampling.

    Rows are ``[in, out, kernel, stride, padding, dilation]``; strides
    5, 4, 2, 2, 2 and kernels 10, 8, 4, 4, 4 give one latent per 10 ms at
    16 kHz (van den Oord et al. 2018, section 3.1).
    """
    c = channels
    return [
        [1, c, 10, 5, 3, 1],
        [c, c, 8, 4, 2, 1],
        [c, c, 4, 2, 1, 1],
        [c, c, 4, 2, 1, 1],
        [c, c, 4, 2, 1, 1],
    ]


@dataclass
class DataConfig:
    """Where the data comes from and how a training example is cut."""

    modality: Literal["audio", "image", "multimodal"] = _f(
        "audio", "what to learn from: audio, image, or multimodal (audio + image pairs)"
    )
    use_mock_data: bool = _f(
        True, "use the built-in synthetic data (no download); false reads audio_root / image_root"
    )
    audio_root: str | None = _f(
        None, "folder of audio files (wav, flac, ogg), searched recursively"
    )
    image_root: str | None = _f(None, "folder of images, one subfolder per class")
    pairs_csv: str | None = _f(
        None, "CSV of (audio file, image file[, label]) pairs for real multimodal data"
    )
    sample_rate: int = _f(16000, "audio sample rate in Hz; files are resampled to it")
    full_duration: float = _f(
        0.64, "seconds of audio in one training window (gives T context + K predicted latents)"
    )
    short_clips: Literal["pad", "drop"] = _f(
        "pad", "clips shorter than the window: pad with zeros (padded steps are masked) or drop"
    )
    normalize: bool = _f(False, "normalise each utterance to zero mean and unit variance")
    label_regex: str | None = _f(
        None,
        "regex with named groups parsed from file names, e.g. (?P<digit>\\d)_(?P<speaker>[a-z]+)_\\d+\\.wav",
    )
    label_key: str | None = _f(None, "regex group (or 'folder') used as the probe's label")
    group_key: str | None = _f(
        None, "regex group used as the grouping key (same-group negatives, group splits)"
    )
    split: Literal["ratio", "group", "list"] = _f(
        "ratio", "how to split real data into train / validation / probe-test"
    )
    val_fraction: float = _f(0.0, "fraction of real data held out for validation loss")
    test_fraction: float = _f(0.2, "fraction of real data held out for the probe's test set")
    split_lists: list[str] = _f(
        [], "with split=list: files listing relative paths for train, val, test (in that order)"
    )
    cache: bool = _f(True, "keep decoded, resampled audio / images in memory after the first read")
    n_train: int = _f(1024, "synthetic data: number of training examples")
    n_test: int = _f(512, "synthetic data: number of held-out examples for the probe")
    noise_std: float = _f(0.1, "synthetic audio: standard deviation of the added Gaussian noise")
    freq_min: float = _f(150.0, "synthetic audio: lowest tone frequency in Hz")
    freq_max: float = _f(900.0, "synthetic audio: highest tone frequency in Hz")
    freq_split: float = _f(500.0, "synthetic audio: label 0 below this frequency, 1 at or above")
    image_size: int = _f(32, "image side length in pixels (images are resized to it)")
    n_classes: int = _f(2, "synthetic images: number of pattern classes")
    augment: bool = _f(False, "image augmentation (random crop, flip, colour jitter, grayscale)")
    num_workers: int = _f(0, "DataLoader worker processes")


@dataclass
class AudioEncoderConfig:
    """Audio encoder: raw-waveform conv stack or log-mel + CNN."""

    kind: Literal["conv", "mel"] = _f(
        "mel",
        "mel: log-mel spectrogram + CNN (the default: learns the synthetic task in minutes on a "
        "CPU); conv: the raw-waveform conv stack of conv_layers (the CPC paper's encoder)",
    )
    conv_layers: list[list[int]] | None = _f(
        None,
        "conv stack rows [in, out, kernel, stride, padding, dilation]; "
        "default: the CPC paper's 5 layers with z_dim channels",
    )
    norm: Literal["channel", "batch", "none"] = _f(
        "channel", "normalisation after each conv: per-channel layer norm, batch norm, or none"
    )
    n_mels: int = _f(40, "mel: number of mel bands")
    n_fft: int = _f(400, "mel: FFT size in samples")
    win_length: int = _f(400, "mel: window length in samples (25 ms at 16 kHz)")
    hop_length: int = _f(160, "mel: hop in samples (10 ms at 16 kHz): one latent per hop")
    mel_channels: int = _f(256, "mel: channels of the CNN over mel frames")
    mel_layers: int = _f(3, "mel: number of conv layers over mel frames")


@dataclass
class ImageEncoderConfig:
    """Image encoder: a grid of overlapping patches, each encoded by a small CNN."""

    patch_size: int = _f(8, "patch side in pixels")
    stride: int = _f(4, "patch stride in pixels (8x8 at stride 4 on 32x32 gives a 7x7 grid)")
    width: int = _f(64, "channels of the patch CNN")
    depth: int = _f(2, "residual blocks in the patch CNN")
    order: Literal["raster", "column"] = _f(
        "raster",
        "how the grid is read as a sequence: row by row, or column by column top to bottom",
    )
    norm: Literal["batch", "layer", "none"] = _f("batch", "normalisation in the patch CNN")
    stem_stride: Literal[1, 2] = _f(
        1,
        "stride of the patch CNN's first conv: 1, or 2 to halve each side of its feature maps "
        "(about 4x less compute)",
    )
    patch_augment: Literal["none", "drop", "flip", "drop+flip"] = _f(
        "none",
        "per-patch augmentation while training (CPC v2): drop keeps one random colour channel "
        "of half the patches, flip mirrors half the patches; each patch draws its own",
    )


@dataclass
class ContextConfig:
    """Autoregressive context model and prediction heads."""

    z_dim: int = _f(128, "latent dimension D of the encoders' output z")
    c_dim: int = _f(256, "context dimension C of the context model's output c")
    kind: Literal["gru", "lstm", "transformer"] = _f(
        "gru", "context model: GRU (the CPC paper), LSTM, or causal Transformer"
    )
    layers: int = _f(1, "layers of the context model")
    heads: int = _f(4, "transformer: attention heads")
    ff_dim: int = _f(512, "transformer: feed-forward size")
    dropout: float = _f(0.0, "transformer: dropout")
    positional: Literal["sinusoidal", "learned"] = _f(
        "sinusoidal", "transformer: positional encoding"
    )
    max_len: int = _f(4096, "transformer with learned positions: longest sequence")
    prediction_steps: int = _f(12, "K: how many future latents each context predicts")
    predictor: Literal["linear", "mlp"] = _f(
        "linear", "prediction head per step k: linear (the CPC paper) or a one-hidden-layer MLP"
    )
    predictor_hidden: int = _f(512, "mlp predictor: hidden size")


@dataclass
class NegativesConfig:
    """Which negatives each prediction is contrasted with (see docs/negatives.md)."""

    mode: str = _f(
        "inbatch",
        "negative samplers joined by '+': inbatch, samesequence, samegroup, queue, synthetic, "
        "hard, crossmodal (e.g. queue+synthetic); a queue without a batch sampler gets inbatch "
        "added (queue means inbatch+queue)",
    )
    n_negatives: int = _f(
        128, "negatives per prediction from the batch samplers (inbatch, samesequence, samegroup)"
    )
    share_positions: int = _f(
        1,
        "inbatch, samesequence: consecutive positions of a sequence that share one draw of "
        "candidates (1 = a draw per position; larger: fewer gathers and larger matrix "
        "products, the same number of negatives per prediction)",
    )
    queue_size: int = _f(4096, "queue: latents kept from past batches (typically 4096 to 65536)")
    n_queue: int = _f(
        128, "queue: negatives per prediction drawn from the queue (>= queue_size: all of it)"
    )
    momentum: float = _f(
        0.0,
        "queue: EMA coefficient m of a momentum key encoder that makes the queued keys "
        "(0 = the batch's own latents; MoCo uses 0.999)",
    )
    n_synthetic: int = _f(
        16, "synthetic: hard negatives per prediction (half perturbed positives, half shuffled)"
    )
    sigma: float = _f(
        0.5, "synthetic: std of the Gaussian perturbation, relative to the latents' RMS"
    )
    n_hard: int = _f(16, "hard: mined negatives per prediction (top-k most similar)")
    hard_source: Literal["batch", "queue"] = _f("batch", "hard: where mined negatives come from")
    hard_pool: int = _f(
        1024, "hard: candidates scored in the mining pass (the whole source when smaller)"
    )
    n_crossmodal: int = _f(64, "crossmodal: negatives per prediction from the other modality")
    samplers: list[dict[str, Any]] = _f(
        [],
        "per-sampler settings as a list of {name: ..., count: ..., options}; overrides mode "
        "(options: inbatch and samesequence share; queue size; synthetic sigma, window, "
        "noise_bank; hard source, pool, size)",
    )


@dataclass
class LossConfig:
    """InfoNCE options."""

    similarity: Literal["dot", "cosine"] = _f(
        "dot", "score: dot product (the paper's log-bilinear score) or cosine / temperature"
    )
    temperature: float = _f(0.1, "cosine similarity temperature")
    debiased: bool = _f(False, "debiased InfoNCE (Chuang et al. 2020); needs similarity=cosine")
    tau_plus: float = _f(
        0.1, "debiased InfoNCE: class prior tau+ (probability a negative is a positive)"
    )
    step_weights: list[float] | None = _f(
        None, "weights over the K prediction steps (default: mean over steps)"
    )


@dataclass
class TrainConfig:
    """Optimisation and the Lightning Trainer."""

    out_dir: str = _f(
        "./outputs_audio", "run folder: config, weights, checkpoints, curves, metrics"
    )
    epochs: int = _f(10, "training epochs")
    max_steps: int = _f(-1, "stop after this many optimizer steps (-1: no limit)")
    batch_size: int = _f(32, "examples per batch (per device)")
    lr: float = _f(3e-4, "Adam learning rate")
    weight_decay: float = _f(0.0, "Adam weight decay")
    grad_clip: float = _f(0.0, "clip the gradient norm to this value (0: off)")
    seed: int = _f(0, "random seed (data, initialisation, negatives)")
    devices: int = _f(1, "devices (processes) per node")
    num_nodes: int = _f(1, "nodes")
    accelerator: Literal["auto", "cpu", "gpu"] = _f("auto", "cpu, gpu or auto")
    strategy: str = _f(
        "auto", "Lightning strategy (auto, ddp, ddp_spawn, ...); ddp when devices > 1"
    )
    precision: Literal["32", "16-mixed", "bf16-mixed", "64"] = _f(
        "32",
        "numeric precision: 32; bf16-mixed (GPU, or CPU with bf16 units); 16-mixed (GPU only)",
    )
    accumulate_grad_batches: int = _f(1, "gradient accumulation: batches per optimizer step")
    resume: str | None = _f(
        None, "checkpoint to resume from, or 'auto' for the newest valid one in out_dir/checkpoints"
    )
    checkpoint_every_n_steps: int = _f(
        0, "checkpoint every N optimizer steps as well as at each epoch end (0: epoch ends only)"
    )
    keep_checkpoints: int = _f(2, "step checkpoints kept in out_dir/checkpoints (the newest)")
    logger: Literal["tensorboard", "mlflow", "none"] = _f(
        "tensorboard", "experiment logger (mlflow needs pip install cpckit[mlflow])"
    )
    log_every_n_steps: int = _f(10, "progress line every N steps when output is not a terminal")
    threads: int = _f(0, "torch intra-op threads (0: torch's default)")
    deterministic: bool = _f(False, "ask torch for deterministic algorithms")


@dataclass
class EvalConfig:
    """What runs at the end of training."""

    probe: bool = _f(True, "linear probe on frozen, time-pooled context vectors")
    tsne: bool = _f(True, "t-SNE plot of the held-out context vectors")
    geometry: bool = _f(True, "alignment and uniformity of the context space")
    pool: Literal["mean", "max", "last", "grid"] = _f(
        "mean",
        "how context and latent vectors are pooled over time (grid, images only: the mean of "
        "each quadrant of the patch grid, concatenated)",
    )
    classifier: Literal["linear", "linear-cv", "mlp"] = _f(
        "linear",
        "probe classifier for every row (CPC and baselines): linear (logistic regression, C = 1), "
        "linear-cv (C chosen by 5-fold cross-validation on the probe's training split), mlp",
    )
    max_examples: int = _f(2000, "at most this many examples per split are embedded for evaluation")
    baselines: bool = _f(
        True, "also probe the same architecture with random weights and MFCC / raw-pixel features"
    )
    report: bool = _f(True, "write report.html and report.md in the run folder")


@dataclass
class Config:
    """The whole configuration of a run."""

    data: DataConfig = field(default_factory=DataConfig, metadata={"help": "data"})
    audio_encoder: AudioEncoderConfig = field(
        default_factory=AudioEncoderConfig, metadata={"help": "audio encoder"}
    )
    image_encoder: ImageEncoderConfig = field(
        default_factory=ImageEncoderConfig, metadata={"help": "image encoder"}
    )
    model: ContextConfig = field(default_factory=ContextConfig, metadata={"help": "context model"})
    negatives: NegativesConfig = field(
        default_factory=NegativesConfig, metadata={"help": "negative sampling"}
    )
    loss: LossConfig = field(default_factory=LossConfig, metadata={"help": "loss"})
    train: TrainConfig = field(default_factory=TrainConfig, metadata={"help": "training"})
    eval: EvalConfig = field(default_factory=EvalConfig, metadata={"help": "evaluation"})


# ---------------------------------------------------------------------------
# Conversion with type checks


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in get_args(tp))
    if origin is list:
        (inner,) = get_args(tp) or (Any,)
        return f"a list of {_type_name(inner)}"
    if origin is dict:
        return "a mapping"
    if tp is type(None):
        return "null"
    if tp is bool:
        return "true or false"
    if tp is int:
        return "an integer"
    if tp is float:
        return "a number"
    if tp is str:
        return "a string"
    return getattr(tp, "__name__", str(tp))


_MISSING = object()


def _coerce(value: Any, tp: Any) -> Any:
    """Return ``value`` as type ``tp`` or ``_MISSING`` when it does not fit."""
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin is Literal:
        choices = get_args(tp)
        if value in choices:
            return value
        if (
            isinstance(value, (int, float))
            and not isinstance(value, bool)
            and str(value) in choices
        ):
            return str(value)
        return _MISSING
    if origin in (Union, types.UnionType):
        for arg in get_args(tp):
            if arg is type(None):
                if value is None:
                    return None
                continue
            out = _coerce(value, arg)
            if out is not _MISSING:
                return out
        return _MISSING
    if origin is list:
        if not isinstance(value, (list, tuple)):
            return _MISSING
        (inner,) = get_args(tp) or (Any,)
        items = [_coerce(v, inner) for v in value]
        return _MISSING if any(i is _MISSING for i in items) else items
    if origin is dict:
        return dict(value) if isinstance(value, dict) else _MISSING
    if tp is bool:
        return value if isinstance(value, bool) else _MISSING
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        return _MISSING
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        return _MISSING
    if tp is str:
        return value if isinstance(value, str) else _MISSING
    return _MISSING


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _suggest(name: str, valid: list[str]) -> str:
    close = difflib.get_close_matches(name, valid, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _section_from_dict(cls: type, data: Any, prefix: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix or 'config'} must be a mapping of keys to values, got {data!r}")
    hints = _hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if key not in names:
            raise ConfigError(
                f"unknown config key {path!r}{_suggest(str(key), names)}; "
                f"valid keys{' in ' + prefix if prefix else ''}: {', '.join(names)}"
            )
        tp = hints[key]
        if dataclasses.is_dataclass(tp):
            kwargs[key] = _section_from_dict(typing.cast(type, tp), value, path)
            continue
        out = _coerce(value, tp)
        if out is _MISSING:
            raise ConfigError(f"{path} = {value!r} is not valid: expected {_type_name(tp)}")
        kwargs[key] = out
    return cls(**kwargs)


def config_from_dict(data: dict[str, Any]) -> Config:
    """Build a :class:`Config` from nested dicts, checking keys and types."""
    cfg = _section_from_dict(Config, data or {}, "")
    return typing.cast(Config, cfg)


def config_to_dict(cfg: Any) -> dict[str, Any]:
    """Nested plain dict of a config (for YAML and checkpoints)."""
    return typing.cast(dict[str, Any], dataclasses.asdict(cfg))


def iter_fields(cls: type = Config, prefix: str = "") -> typing.Iterator[tuple[str, Any, Any, str]]:
    """Yield ``(dotted key, type, default, help)`` for every leaf field."""
    hints = _hints(cls)
    for f in dataclasses.fields(cls):
        path = f"{prefix}.{f.name}" if prefix else f.name
        tp = hints[f.name]
        if dataclasses.is_dataclass(tp):
            yield from iter_fields(typing.cast(type, tp), path)
        else:
            default = (
                f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
            )
            yield path, tp, default, str(f.metadata.get("help", ""))


def _set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    if len(parts) != 2 or not all(parts):
        sections = [f.name for f in dataclasses.fields(Config)]
        raise ConfigError(
            f"override key {key!r} must be SECTION.FIELD with a section among {', '.join(sections)}"
        )
    section, name = parts
    sections = [f.name for f in dataclasses.fields(Config)]
    if section not in sections:
        raise ConfigError(
            f"unknown config section {section!r} in {key!r}{_suggest(section, sections)}; "
            f"valid sections: {', '.join(sections)}"
        )
    target = data.setdefault(section, {})
    if not isinstance(target, dict):
        raise ConfigError(f"config section {section!r} must be a mapping")
    target[name] = value


def parse_override(text: str) -> tuple[str, Any]:
    """Parse ``KEY=VALUE``; the value is read as YAML (``true``, ``1e-3``, ``[1, 2]``)."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} must look like section.key=value, e.g. train.lr=1e-3")
    key, raw = text.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    if isinstance(value, str) or value is None:
        # YAML reads 1e-3 as a string; numbers are what users mean.
        with contextlib.suppress(ValueError):
            value = float(raw) if any(ch in raw for ch in ".eE") else int(raw)
    return key.strip(), value


def load_config(
    path: str | Path | None = None,
    overrides: typing.Sequence[str] = (),
    flags: dict[str, Any] | None = None,
) -> Config:
    """Resolve a config: defaults < YAML file < CLI flags < ``key=value`` overrides.

    Args:
        path: optional YAML file with sections as in :class:`Config`.
        overrides: ``section.key=value`` strings.
        flags: ``{"section.key": value}`` from named CLI flags.
    """
    data: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file {str(p)!r} does not exist")
        try:
            loaded = yaml.safe_load(p.read_text())
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            raise ConfigError(f"config file {str(p)!r} is not valid YAML{where}") from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"config file {str(p)!r} must hold a mapping of sections")
        data = loaded
    for key, value in (flags or {}).items():
        if value is not None:
            _set_dotted(data, key, value)
    for text in overrides:
        key, value = parse_override(text)
        _set_dotted(data, key, value)
    cfg = config_from_dict(data)
    validate(cfg)
    return cfg


def validate(cfg: Config) -> None:
    """Check values and combinations that types alone cannot."""
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
    }
    for key, value in positive_ints.items():
        if value < 1:
            raise ConfigError(f"{key} = {value} is not valid: expected an integer >= 1")
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
    from cpckit.negatives.registry import parse_mode  # late import: negatives import config

    parse_mode(cfg.negatives.mode, cfg.negatives.samplers)
    if cfg.data.modality in ("audio", "multimodal"):
        from cpckit.encoders.audio import check_audio_window

        check_audio_window(cfg)


def save_config(cfg: Config, path: str | Path) -> None:
    """Write the resolved config as YAML."""
    Path(path).write_text(yaml.safe_dump(config_to_dict(cfg), sort_keys=False))
