"""Real audio for a run: a folder of recordings split into CPC windows and probe clips.

:func:`real_audio_bundle` turns the ``data`` section of a config into the
datasets of a run (:class:`~cpckit.data.bundle.DataBundle`):

- the clips under ``data.audio_root``: any folder of wav / flac / ogg files
  (labels from file names with ``data.label_regex``, or from folders with the
  key ``"folder"``), or LibriSpeech's ``speaker/chapter/speaker-chapter-utt.flac``
  layout, recognised by itself (speaker labels);
- clips too short for one valid CPC prediction (fewer samples than
  :func:`cpckit.build.min_clip_samples`: two valid latent steps of the
  configured encoder) are dropped before anything else and counted: they
  would train nothing, and the end-of-train evaluation cannot encode them;
- one split (``data.split``: ``ratio``, ``group`` or ``list``, seeded by
  ``train.seed``) into train / validation / probe-test clips;
- ``train``: random windows of ``data.full_duration`` of the train clips (a
  shorter clip is zero-padded and its padded latent steps are masked, or
  dropped with ``data.short_clips = drop``); ``val`` the same of the
  validation clips;
- ``probe_train`` / ``probe_test``: the whole train / probe-test clips, for
  the end-of-train probe and baselines.

Every mistake in the config or the folder is one :class:`ConfigError` or
:class:`DataError` line naming the key or path and what would be valid.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from cpckit.config import Config
from cpckit.data.audio import AudioFolderDataset
from cpckit.data.audio_files import find_audio_files, supported_extensions
from cpckit.data.bundle import DataBundle
from cpckit.data.labels import FOLDER_KEY, NAME_PATTERNS, compile_label_regex
from cpckit.data.librispeech import LibriSpeechDataset, in_librispeech_layout
from cpckit.data.splits import Split, split_by_group, split_by_lists, split_by_ratio
from cpckit.errors import ConfigError, DataError

__all__ = [
    "DEFAULT_EXTENSIONS",
    "find_clips",
    "long_enough",
    "open_audio_folder",
    "real_audio_bundle",
]

DEFAULT_EXTENSIONS: tuple[str, ...] = ("wav", "flac", "ogg")
"""Formats searched first; other formats soundfile reads are used when none of these is there."""

_LIBRISPEECH_KEYS = ("speaker", "chapter")
_TSNE_MIN_POINTS = 4  # the end-of-train t-SNE needs this many held-out clips
_MAX_LISTED = 4


# ----------------------------------------------------------------------------- files


def _describe_other_files(root: Path) -> str:
    counts: Counter[str] = Counter()
    for path in root.rglob("*"):
        if path.is_file() and not any(
            part.startswith(".") for part in path.relative_to(root).parts
        ):
            counts[path.suffix.lower() or "(no extension)"] += 1
    if not counts:
        return f"data.audio_root {root} is empty: put wav, flac or ogg files in it"
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    shown = ", ".join(f"{ext} ({n})" for ext, n in ranked[:_MAX_LISTED])
    more = f" and {len(counts) - _MAX_LISTED} more kinds" if len(counts) > _MAX_LISTED else ""
    return (
        f"no audio files under data.audio_root {root}: its {sum(counts.values())} files are "
        f"{shown}{more}, none in a format soundfile reads; convert them to wav or flac "
        f"(readable: {', '.join(supported_extensions())})"
    )


def find_clips(root: str | Path) -> tuple[list[str], tuple[str, ...]]:
    """Audio files under ``root`` and the extensions searched.

    wav, flac and ogg files are taken when there are any; otherwise every
    format soundfile reads (e.g. mp3, aiff) is searched.

    Raises:
        DataError: ``root`` is missing, not a folder, empty, or holds no
            file in a readable format (the message lists what it holds).
    """
    base = Path(root)
    if not base.exists():
        raise DataError(f"data.audio_root {base} does not exist")
    if not base.is_dir():
        raise DataError(f"data.audio_root {base} is not a folder")
    files = find_audio_files(base, DEFAULT_EXTENSIONS)
    if files:
        return files, DEFAULT_EXTENSIONS
    others = [e for e in supported_extensions() if e not in DEFAULT_EXTENSIONS]
    files = find_audio_files(base, others)
    if not files:
        raise DataError(_describe_other_files(base))
    found = tuple(sorted({Path(f).suffix.lower().lstrip(".") for f in files}))
    return files, found


def _is_librispeech(cfg: Config, files: list[str]) -> bool:
    return cfg.data.label_regex is None and all(in_librispeech_layout(f) for f in files)


# ----------------------------------------------------------------------------- labels


def _check_folder_labels(cfg: Config) -> None:
    """Label settings for a plain folder, checked before any file is read."""
    d = cfg.data
    keys = [("data.label_key", d.label_key), ("data.group_key", d.group_key)]
    if d.label_regex is not None:
        try:
            regex = re.compile(d.label_regex)
        except re.error as err:
            raise ConfigError(
                f"data.label_regex = '{d.label_regex}' is not a valid regex: {err}"
            ) from None
        compile_label_regex(regex, keys)
        if d.label_key is None and cfg.eval.probe:
            groups = sorted(regex.groupindex, key=lambda g: regex.groupindex[g])
            choices = ", ".join([*groups, FOLDER_KEY])
            raise ConfigError(
                f"eval.probe = true needs data.label_key, the label to probe: one of {choices} "
                f"(the groups of data.label_regex '{d.label_regex}'); or set eval.probe=false "
                "to train without a probe"
            )
        return
    for key, value in keys:
        if value is not None and value != FOLDER_KEY:
            raise ConfigError(
                f"{key} = {value!r} needs data.label_regex, a regex with a group named "
                f"{value!r} matched against whole file names (e.g. '{NAME_PATTERNS['fsdd']}'), "
                f"or the key {FOLDER_KEY!r} for the parent folder's name"
            )


def _check_librispeech_labels(cfg: Config) -> tuple[str, str]:
    d = cfg.data
    label_key = d.label_key or "speaker"
    group_key = d.group_key or "speaker"
    for key, value in (("data.label_key", label_key), ("data.group_key", group_key)):
        if value not in _LIBRISPEECH_KEYS:
            raise ConfigError(
                f"{key} = {value!r} is not valid for the LibriSpeech layout under "
                f"{d.audio_root}: expected 'speaker' or 'chapter'"
            )
    return label_key, group_key


def open_audio_folder(
    cfg: Config, *, progress: bool | None = None
) -> tuple[AudioFolderDataset, str]:
    """All clips under ``data.audio_root`` as whole clips, and the layout's name.

    The layout is ``"LibriSpeech"`` when there is no ``data.label_regex`` and
    every file is in LibriSpeech's layout (labels and groups default to the
    speaker), else ``"folder"``.

    Raises:
        ConfigError / DataError: one line naming the key or path at fault.
    """
    d = cfg.data
    if not d.audio_root:
        raise ConfigError(
            "data.audio_root is not set: give the folder of recordings (--audio-root)"
        )
    show = sys.stderr.isatty() if progress is None else progress
    files, extensions = find_clips(d.audio_root)
    common: dict[str, Any] = dict(
        normalize=d.normalize, cache=d.cache, seed=cfg.train.seed, progress=show
    )
    if _is_librispeech(cfg, files):
        label_key, group_key = _check_librispeech_labels(cfg)
        ds: AudioFolderDataset = LibriSpeechDataset(
            d.audio_root,
            d.sample_rate,
            label_key=label_key,
            group_key=group_key,
            files=files,
            **common,
        )
        return ds, "LibriSpeech"
    _check_folder_labels(cfg)
    ds = AudioFolderDataset(
        d.audio_root,
        d.sample_rate,
        extensions=extensions,
        label_regex=d.label_regex,
        label_key=d.label_key,
        group_key=d.group_key,
        files=files,
        **common,
    )
    return ds, "folder"


# ----------------------------------------------------------------------------- clip lengths


def long_enough(
    lengths: np.ndarray, names: list[str], cfg: Config, where: str
) -> tuple[np.ndarray, str]:
    """Indices of the clips long enough for one valid prediction, and a note on the others.

    A clip shorter than :func:`cpckit.build.min_clip_samples` is masked out
    of every prediction whether padded or not, so training on it only wastes
    the batch, and the end-of-train evaluation cannot encode it (the log-mel
    STFT needs more than half a window). The note (``""`` when no clip is
    dropped) is one line for the data summary.

    Args:
        lengths: ``(N,)`` samples of each clip at ``data.sample_rate``.
        names: the clips' names, for the note.
        cfg: the run's config (the encoder and the sample rate).
        where: where the clips are, for the messages (e.g. ``"under data.audio_root DIR"``).

    Raises:
        DataError: every clip is too short (naming the minimum and what changes it).
    """
    from cpckit.build import encoder_summary, min_clip_samples

    need = min_clip_samples(cfg)
    short = np.asarray(lengths) < need
    if not short.any():
        return np.arange(len(short)), ""
    rate = cfg.data.sample_rate
    minimum = f"{need} samples ({need / rate:.4g} s at {rate} Hz)"
    if short.all():
        raise DataError(
            f"all {len(short)} clips {where} are shorter than {minimum}, the fewest that give "
            f"one valid prediction with the {encoder_summary(cfg)} (the longest has "
            f"{int(np.max(lengths))} samples): use longer recordings, a higher data.sample_rate, "
            "or an encoder that needs fewer samples (audio_encoder.kind, n_fft, hop_length, "
            "mel_layers or conv_layers)"
        )
    dropped = [names[i] for i in np.flatnonzero(short)]
    note = (
        f"dropped {len(dropped)} of {len(short)} clips shorter than {minimum}, too short for "
        f"one valid prediction: {_names(dropped)}"
    )
    return np.flatnonzero(~short), note


# ----------------------------------------------------------------------------- splits


def _split(ds: AudioFolderDataset, cfg: Config, label_key: str | None) -> Split:
    d = cfg.data
    seed = cfg.train.seed
    if d.split == "ratio":
        return split_by_ratio(
            len(ds), val_fraction=d.val_fraction, test_fraction=d.test_fraction, seed=seed
        )
    if d.split == "group":
        if (ds.groups < 0).all():
            raise ConfigError(
                "data.split = 'group' holds out whole groups, but there are none: set "
                "data.group_key (e.g. the speaker)"
            )
        if cfg.eval.probe and label_key is not None and label_key == _group_key(ds, cfg):
            raise ConfigError(
                f"data.split = 'group' holds out whole {label_key!r} groups, so the probe of "
                f"data.label_key = {label_key!r} would be tested on classes it never saw: use "
                "data.split = 'ratio', or another label_key"
            )
        return split_by_group(
            ds.groups,
            val_fraction=d.val_fraction,
            test_fraction=d.test_fraction,
            seed=seed,
            group_names=ds.group_names,
        )
    lists = list(d.split_lists)
    if len(lists) not in (2, 3):
        raise ConfigError(
            f"data.split = 'list' needs data.split_lists = [train, test] or [train, val, test] "
            f"list files, got {len(lists)} entries"
        )
    val = lists[1] if len(lists) == 3 else None
    return split_by_lists(ds.paths, train=lists[0], val=val, test=lists[-1], root=ds.root)


def _group_key(ds: AudioFolderDataset, cfg: Config) -> str | None:
    if isinstance(ds, LibriSpeechDataset):
        return cfg.data.group_key or "speaker"
    return cfg.data.group_key


# ----------------------------------------------------------------------------- the bundle


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:_MAX_LISTED])
    return shown + (f", ... ({len(names)} in all)" if len(names) > _MAX_LISTED else "")


def _probe_note(
    cfg: Config,
    label_key: str | None,
    probe_train: AudioFolderDataset,
    probe_test: AudioFolderDataset,
) -> str:
    if not cfg.eval.probe:
        return "off (eval.probe = false)"
    if label_key is None:
        return (
            "off: the clips have no labels (set data.label_regex and data.label_key, or "
            "data.label_key=folder, to probe a label)"
        )
    n_train = len(np.unique(probe_train.labels))
    n_test = len(np.unique(probe_test.labels))
    if n_train < 2 or n_test < 2:
        return (
            f"off: {label_key!r} has {n_train} class(es) in the train clips and {n_test} in the "
            "probe-test clips; a probe needs at least 2 in each"
        )
    return (
        f"{label_key!r} on whole clips: {len(probe_train)} train, {len(probe_test)} test, "
        f"{len(probe_train.label_names)} classes"
    )


def real_audio_bundle(cfg: Config, *, progress: bool | None = None) -> DataBundle:
    """The datasets of a run on real audio (see the module notes).

    Args:
        cfg: the run's config (``data`` section, ``train.seed``, ``eval.probe``,
            the encoder and ``model.prediction_steps`` for the window check).
        progress: show a progress bar while decoding (default: when stderr is a terminal).

    Raises:
        ConfigError / DataError: one line naming the key or path at fault.
    """
    from cpckit.build import audio_latent_length, check_audio_window

    d = cfg.data
    window = check_audio_window(cfg)
    found, layout = open_audio_folder(cfg, progress=progress)
    keep, too_short = long_enough(
        found.lengths, found.paths, cfg, f"under data.audio_root {found.root}"
    )
    base = found.subset(keep) if too_short else found
    label_key = d.label_key if layout == "folder" else (d.label_key or "speaker")
    split = _split(base, cfg, label_key)
    if len(split.test) == 0:
        raise ConfigError(
            "the end-of-train evaluation needs held-out clips, but the probe-test split is empty: "
            "set data.test_fraction > 0 (or give a test list in data.split_lists)"
        )

    if cfg.eval.tsne and len(split.test) < _TSNE_MIN_POINTS:
        raise ConfigError(
            f"eval.tsne = true needs at least {_TSNE_MIN_POINTS} probe-test clips, but the split "
            f"gives {len(split.test)} of {len(base)}: raise data.test_fraction or set "
            "eval.tsne=false"
        )

    probe_train = base.subset(split.train)
    train = probe_train.with_window(window, d.short_clips)
    val = base.subset(split.val).with_window(window, d.short_clips) if len(split.val) else None
    probe_test = base.subset(split.test)

    seconds = base.durations
    short = int((probe_train.lengths < window).sum())
    if d.short_clips == "pad":
        short_note = (
            f"{short} of {len(probe_train)} train clips are shorter than the window: "
            "zero-padded, padded latent steps masked"
        )
    else:
        short_note = f"{len(train.dropped)} of {len(probe_train)} train clips dropped (shorter)"
    info: dict[str, Any] = {
        "audio root": f"{base.root} ({layout} layout)",
        "clips": len(base),
        "audio": (
            f"{seconds.sum() / 3600:.2f} h at {d.sample_rate} Hz; clips {seconds.min():.2f} s to "
            f"{seconds.max():.2f} s, median {float(np.median(seconds)):.2f} s"
        ),
        "skipped files": len(base.skipped),
    }
    if too_short:
        info["too-short clips"] = too_short
    if base.unmatched:
        info["unmatched files"] = len(base.unmatched)
    if label_key is not None:
        info["labels"] = f"{label_key}: {len(base.label_names)} ({_names(base.label_names)})"
    group_key = _group_key(base, cfg)
    if group_key is not None:
        info["groups"] = f"{group_key}: {len(base.group_names)} ({_names(base.group_names)})"
    info["split"] = (
        f"{d.split}, seed {cfg.train.seed}: {len(split.train)} train, {len(split.val)} "
        f"validation, {len(split.test)} probe-test clips"
    )
    if d.split == "group":
        held_out = sorted({base.group_names[g] for g in base.groups[split.test]})
        info["split"] += f"; probe-test {group_key}: {_names(held_out)}"
    info["window"] = (
        f"{d.full_duration:g} s = {window} samples -> {audio_latent_length(cfg, window)} latent "
        f"steps, K = {cfg.model.prediction_steps}"
    )
    info["short clips"] = short_note
    info["dropped clips"] = len(train.dropped)
    info["train windows"] = len(train)
    if val is not None:
        info["validation windows"] = len(val)
    info["probe"] = _probe_note(cfg, label_key, probe_train, probe_test)
    return DataBundle(
        train=train,
        probe_train=probe_train,
        probe_test=probe_test,
        val=val,
        label_names=list(base.label_names),
        info=info,
    )
