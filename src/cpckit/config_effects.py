"""Options set in a config that have no effect in the chosen setting: one warning at load.

A user who writes ``loss.temperature: 0.07`` with ``loss.similarity: dot``
(the dot product has no temperature) or a queue size with no queue in
``negatives.mode`` gets a run that silently ignores the setting. At config
load, :func:`no_effect_notes` lists every key the user *set* (in the YAML
file, a flag or a ``key=value`` override; defaults never warn) that the
rest of the config makes inert, and :func:`warn_no_effect` issues them as
one :class:`NoEffectWarning`.

The rules are data: each names the keys it covers, when they are inert and
what would make them count, so the docs table (docs/training.md) and the
tests read the same list.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from cpckit.config import Config

__all__ = ["NO_EFFECT_RULES", "NoEffectWarning", "no_effect_notes", "warn_no_effect"]


class NoEffectWarning(UserWarning):
    """An option was set that the rest of the config ignores."""


@dataclass(frozen=True)
class Rule:
    """``keys`` have no effect when ``inert(cfg)``; ``because`` says why and what would use them."""

    keys: tuple[str, ...]
    inert: Callable[[Config], bool]
    because: Callable[[Config], str]


def _mode_names(cfg: Config) -> set[str]:
    from cpckit.negatives.registry import parse_mode

    return {name for name, _ in parse_mode(cfg.negatives.mode, cfg.negatives.samplers)}


def _reads_queue(cfg: Config) -> bool:
    from cpckit.negatives.registry import uses_queue

    return uses_queue(cfg.negatives)


def _audio(cfg: Config) -> bool:
    return cfg.data.modality in ("audio", "multimodal")


def _image(cfg: Config) -> bool:
    return cfg.data.modality in ("image", "multimodal")


def _mode(cfg: Config) -> str:
    return f"negatives.mode = {cfg.negatives.mode!r}"


_MEL_KEYS = (
    "n_mels",
    "n_fft",
    "win_length",
    "hop_length",
    "mel_channels",
    "mel_layers",
    "mel_norm",
)
_TRANSFORMER_KEYS = ("heads", "ff_dim", "dropout", "positional", "max_len")
_AUDIO_AUGMENT_OPTIONS = (
    "prob",
    "pitch_semitones",
    "pitch_mode",
    "apply_to",
    "bandreject_octaves",
    "noise_snr_min",
    "noise_snr_max",
    "timedrop_share",
    "timedrop_ms",
)

NO_EFFECT_RULES: tuple[Rule, ...] = (
    Rule(
        ("loss.temperature",),
        lambda c: c.loss.similarity == "dot",
        lambda c: "loss.similarity = dot has no temperature; set loss.similarity=cosine to use it",
    ),
    Rule(
        ("loss.tau_plus",),
        lambda c: not c.loss.debiased,
        lambda c: "it is the class prior of debiased InfoNCE; set loss.debiased=true to use it",
    ),
    Rule(
        ("negatives.queue_size", "negatives.n_queue"),
        lambda c: not _reads_queue(c),
        lambda c: f"{_mode(c)} reads no queue; add 'queue' to it (e.g. queue+synthetic)",
    ),
    Rule(
        ("negatives.n_synthetic", "negatives.sigma"),
        lambda c: "synthetic" not in _mode_names(c),
        lambda c: f"{_mode(c)} makes no synthetic negatives; add 'synthetic' to it",
    ),
    Rule(
        ("negatives.n_hard", "negatives.hard_source", "negatives.hard_pool"),
        lambda c: "hard" not in _mode_names(c),
        lambda c: f"{_mode(c)} mines no hard negatives; add 'hard' to it",
    ),
    Rule(
        ("negatives.n_crossmodal",),
        lambda c: "crossmodal" not in _mode_names(c),
        lambda c: f"{_mode(c)} draws no cross-modal negatives; add 'crossmodal' to it",
    ),
    Rule(
        tuple(f"audio_encoder.{k}" for k in _MEL_KEYS),
        lambda c: _audio(c) and c.audio_encoder.kind == "conv",
        lambda c: "audio_encoder.kind = conv reads the waveform; set audio_encoder.kind=mel",
    ),
    Rule(
        ("audio_encoder.conv_layers",),
        lambda c: _audio(c) and c.audio_encoder.kind == "mel",
        lambda c: (
            "audio_encoder.kind = mel has no waveform conv stack; set audio_encoder.kind=conv"
        ),
    ),
    Rule(
        ("audio_encoder.*", "audio_augment.*"),
        lambda c: not _audio(c),
        lambda c: f"data.modality = {c.data.modality} has no audio",
    ),
    Rule(
        ("image_encoder.*",),
        lambda c: not _image(c),
        lambda c: f"data.modality = {c.data.modality} has no images",
    ),
    Rule(
        tuple(f"audio_augment.{k}" for k in _AUDIO_AUGMENT_OPTIONS),
        lambda c: _audio(c) and not c.audio_augment.transforms,
        lambda c: "audio_augment.transforms is empty; list transforms (e.g. [reverb, noise])",
    ),
    Rule(
        tuple(f"model.{k}" for k in _TRANSFORMER_KEYS),
        lambda c: c.model.kind != "transformer",
        lambda c: f"model.kind = {c.model.kind} is recurrent; they are Transformer options",
    ),
    Rule(
        ("model.predictor_hidden",),
        lambda c: c.model.predictor == "linear",
        lambda c: "model.predictor = linear has no hidden layer; set model.predictor=mlp",
    ),
    Rule(
        ("train.momentum",),
        lambda c: c.train.optimizer != "sgd",
        lambda c: (
            f"train.optimizer = {c.train.optimizer} has no momentum key; set train.optimizer=sgd"
        ),
    ),
    Rule(
        ("train.warmup_steps",),
        lambda c: c.train.lr_schedule == "constant",
        lambda c: "train.lr_schedule = constant has no warmup; set train.lr_schedule=cosine",
    ),
)
"""Every rule, in the order its notes are written."""


def _matches(pattern: str, given: Iterable[str]) -> Iterator[str]:
    if pattern.endswith(".*"):
        section = pattern[:-1]
        yield from sorted(k for k in given if k.startswith(section))
    elif pattern in given:
        yield pattern


def no_effect_notes(cfg: Config, given: Iterable[str]) -> list[str]:
    """One line per set key that ``cfg`` makes inert: ``key has no effect: why``."""
    given = set(given)
    notes: list[str] = []
    seen: set[str] = set()
    for rule in NO_EFFECT_RULES:
        hits = [k for pattern in rule.keys for k in _matches(pattern, given) if k not in seen]
        if hits and rule.inert(cfg):
            seen.update(hits)
            notes.append(
                f"{', '.join(hits)} {'has' if len(hits) == 1 else 'have'} no effect: "
                f"{rule.because(cfg)}"
            )
    return notes


def warn_no_effect(cfg: Config, given: Iterable[str]) -> None:
    """Issue every :func:`no_effect_notes` line as one :class:`NoEffectWarning` each."""
    for note in no_effect_notes(cfg, given):
        warnings.warn(note, NoEffectWarning, stacklevel=3)
