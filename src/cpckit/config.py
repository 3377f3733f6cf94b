"""Typed configuration: one dataclass per component, YAML files and overrides.

Every field carries a help text (``field(metadata={"help": ...})``); the same
schema gives the CLI's ``--help``, validates YAML files and ``key=value``
overrides, and is saved as ``config.yaml`` in every run folder.

Errors are :class:`~cpckit.errors.ConfigError` with one line that names the
key, the value and what would be valid.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from cpckit.config_io import from_dict, merge_layers, parse_override, read_layers
from cpckit.config_io import iter_fields as _iter_fields
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
    "parse_override",
    "save_config",
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
    mel_norm: Literal["none", "utterance"] = _f(
        "none",
        "mel: 'utterance' standardises each mel band over the clip's own (valid) frames",
    )


@dataclass
class AudioAugmentConfig:
    """Time-domain augmentation of the CPC training windows (cpckit.data.audio_augment)."""

    transforms: list[str] = _f(
        [],
        "names from pitch, reverb, bandreject, noise, timedrop (empty: no augmentation); "
        "one draw per training window, never applied to the probes",
    )
    prob: float = _f(0.5, "probability that each listed transform is applied to a window")
    pitch_semitones: float = _f(3.0, "pitch: shift drawn in [-x, x] semitones")
    pitch_mode: Literal["speed", "shift"] = _f(
        "speed", "pitch: 'speed' resamples (tempo moves too), 'shift' keeps the tempo"
    )
    apply_to: Literal["both", "past"] = _f(
        "both",
        "'both': the whole window; 'past': only the context's input, the predictions "
        "are scored against the clean window's latents (needs pitch_mode shift)",
    )
    reverb_rt60: float = _f(0.4, "reverb: reverberation time drawn in [0.05, x] seconds")
    bandreject_octaves: float = _f(0.5, "bandreject: width of the removed band in octaves")
    noise_snr_min: float = _f(5.0, "noise: lowest signal-to-noise ratio in dB")
    noise_snr_max: float = _f(20.0, "noise: highest signal-to-noise ratio in dB")
    timedrop_share: float = _f(0.1, "timedrop: share of each window zeroed")
    timedrop_ms: float = _f(20.0, "timedrop: length of each zeroed chunk in ms")


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
    patch_augment_to: Literal["both", "past"] = _f(
        "both",
        "'past': the per-patch augmentation reaches the context only; the predictions are "
        "scored against the clean patches' latents",
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
        "./outputs_{modality}",
        "run folder: config, weights, checkpoints, curves, metrics; {modality} and {time} "
        "(YYYYmmdd-HHMMSS) are filled in",
    )
    overwrite: bool = _f(
        False, "replace the run already in out_dir (without it, or train.resume, it is refused)"
    )
    epochs: int = _f(10, "training epochs")
    max_steps: int = _f(-1, "stop after this many optimizer steps (-1: no limit)")
    batch_size: int = _f(32, "examples per batch (per device)")
    optimizer: Literal["adam", "adamw", "sgd"] = _f("adam", "adam, adamw or sgd (see momentum)")
    lr: float = _f(3e-4, "learning rate")
    momentum: float = _f(0.9, "sgd: momentum (0: plain SGD)")
    weight_decay: float = _f(0.0, "weight decay (adamw: decoupled)")
    lr_schedule: Literal["constant", "cosine"] = _f(
        "constant", "learning rate: constant, or linear warmup then cosine decay to 0"
    )
    warmup_steps: int = _f(0, "cosine schedule: steps of linear warmup from 0 to train.lr")
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
    audio_augment: AudioAugmentConfig = field(
        default_factory=AudioAugmentConfig, metadata={"help": "audio augmentation"}
    )
    model: ContextConfig = field(default_factory=ContextConfig, metadata={"help": "context model"})
    negatives: NegativesConfig = field(
        default_factory=NegativesConfig, metadata={"help": "negative sampling"}
    )
    loss: LossConfig = field(default_factory=LossConfig, metadata={"help": "loss"})
    train: TrainConfig = field(default_factory=TrainConfig, metadata={"help": "training"})
    eval: EvalConfig = field(default_factory=EvalConfig, metadata={"help": "evaluation"})


# ---------------------------------------------------------------------------
# Conversion with type checks (cpckit.config_io)


def config_from_dict(data: dict[str, Any]) -> Config:
    """Build a :class:`Config` from nested dicts, checking keys and types."""
    return typing.cast(Config, from_dict(Config, data or {}))


def config_to_dict(cfg: Any) -> dict[str, Any]:
    """Nested plain dict of a config (for YAML and checkpoints)."""
    return typing.cast(dict[str, Any], dataclasses.asdict(cfg))


def iter_fields(cls: type = Config, prefix: str = "") -> typing.Iterator[tuple[str, Any, Any, str]]:
    """Yield ``(dotted key, type, default, help)`` for every leaf field."""
    return _iter_fields(cls, prefix)


_ROOTS = ("audio_root", "image_root", "pairs_csv")


def _is_set(value: Any) -> bool:
    return value is not None and str(value).strip().lower() not in ("", "null", "none", "~")


def _real_data_from_roots(data: dict[str, Any], layers: list[Any]) -> None:
    """A data root means real data: ``use_mock_data`` follows it unless set alongside.

    ``layers`` are the ``data`` sections of the YAML file, the flags and the
    overrides, in that order. A root given in a later layer than
    ``use_mock_data`` (or with none given) turns ``use_mock_data`` off; a root
    and ``use_mock_data = true`` given in the same layer, or the root first
    and ``true`` after it, contradict each other and are an error.
    """
    section = data.get("data")
    if not isinstance(section, dict):
        return
    roots = [(k, section[k]) for k in _ROOTS if _is_set(section.get(k))]
    if not roots:
        return
    key, value = roots[0]

    def last_layer(name: str) -> int:
        found = [i for i, lay in enumerate(layers) if isinstance(lay, dict) and name in lay]
        return found[-1] if found else -1

    mock_at = last_layer("use_mock_data")
    root_at = max(last_layer(k) for k, _ in roots)
    mock = str(section.get("use_mock_data", "")).strip().lower() in ("true", "yes", "on", "1")
    if mock_at < 0 or (root_at > mock_at):
        section["use_mock_data"] = False
        return
    if mock:
        raise ConfigError(
            f"data.use_mock_data = true trains on the built-in synthetic data, but data.{key} "
            f"= {value} is given: a data root means real data, so drop --use-mock-data true "
            f"(or set it to false), or drop the root to train on synthetic data"
        )


def load_config(
    path: str | Path | None = None,
    overrides: typing.Sequence[str] = (),
    flags: dict[str, Any] | None = None,
    given: set[str] | None = None,
) -> Config:
    """Resolve a config: defaults < YAML file < CLI flags < ``key=value`` overrides.

    Checks keys, types and values (:func:`validate`); the checks that need
    the model (negatives mode, audio window) are
    :func:`cpckit.build.check_config`, and :func:`cpckit.build.load_checked_config`
    runs both.

    Args:
        path: optional YAML file with sections as in :class:`Config`.
        overrides: ``section.key=value`` strings.
        flags: ``{"section.key": value}`` from named CLI flags.
        given: if a set, filled with the dotted keys the file, flags and overrides set.
    """
    from cpckit.config_checks import expand_out_dir, validate

    layers = read_layers(Config, path, overrides, flags)
    data = merge_layers(layers)
    if given is not None:
        given.update(f"{s}.{k}" for s, sec in data.items() if isinstance(sec, dict) for k in sec)
    _real_data_from_roots(data, [layer.get("data", {}) for layer in layers])
    cfg = config_from_dict(data)
    cfg.train.out_dir = expand_out_dir(cfg.train.out_dir, cfg)
    validate(cfg)
    return cfg


def save_config(cfg: Config, path: str | Path) -> None:
    """Write the resolved config as YAML."""
    Path(path).write_text(yaml.safe_dump(config_to_dict(cfg), sort_keys=False))
