"""Datasets of an image run and of a multimodal (audio + image) run.

:func:`image_bundle` and :func:`multimodal_bundle` turn the ``data`` section
of a config into a :class:`~cpckit.data.bundle.DataBundle`:

- **images**, synthetic (``data.use_mock_data``: pattern classes of
  :class:`~cpckit.data.synthetic_image.SyntheticImageDataset`, train and test
  drawn with different seeds) or a folder (``data.image_root``: one subfolder
  per class; when it holds ``train/`` and ``test/`` folders with class
  subfolders, those are the split, else a seeded ratio split by
  ``data.test_fraction``);
- **pairs**, synthetic (:class:`~cpckit.data.paired.PairedSyntheticDataset`)
  or a CSV (``data.pairs_csv``, :class:`~cpckit.data.paired.PairedCSVDataset`),
  split by ratio or group.

``data.augment`` augments the images of the CPC training set only; the probe
sets are never augmented. For real pairs the CPC training set holds windows
of ``data.full_duration`` and the probe sets whole clips.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from cpckit.config import Config
from cpckit.data.bundle import DataBundle
from cpckit.data.image import ImageFolderDataset
from cpckit.data.image_augment import ImageAugment
from cpckit.data.paired import PairedCSVDataset, PairedSyntheticDataset
from cpckit.data.splits import Split, split_by_group, split_by_ratio
from cpckit.data.synthetic_image import SyntheticImageDataset
from cpckit.errors import ConfigError, DataError

__all__ = [
    "check_image_grid",
    "find_split_folders",
    "image_bundle",
    "make_augment",
    "multimodal_bundle",
]

_TEST_SEED_OFFSET = 10_000  # the held-out synthetic set is drawn with seed + this


def check_image_grid(cfg: Config) -> tuple[int, int]:
    """The patch grid ``(gh, gw)`` of the configured images; checks it fits K.

    Raises:
        ConfigError: the patch does not fit in the image, or the grid has
            ``gh * gw <= model.prediction_steps`` latent steps.
    """
    from cpckit.encoders.image import grid_shape

    enc = cfg.image_encoder
    size = cfg.data.image_size
    try:
        gh, gw = grid_shape(size, enc.patch_size, enc.stride)
    except ValueError as exc:
        raise ConfigError(
            f"image_encoder.patch_size = {enc.patch_size} and image_encoder.stride = "
            f"{enc.stride} do not fit data.image_size = {size}: {exc}"
        ) from None
    k = cfg.model.prediction_steps
    if gh * gw <= k:
        raise ConfigError(
            f"data.image_size = {size} with image_encoder.patch_size = {enc.patch_size} and "
            f"stride = {enc.stride} gives a {gh}x{gw} grid = {gh * gw} latent steps; "
            f"model.prediction_steps = {k} needs at least {k + 1}: lower "
            "model.prediction_steps or image_encoder.stride"
        )
    return gh, gw


def make_augment(cfg: Config) -> ImageAugment | None:
    """The CPC training set's image augmentation (``data.augment``), seeded by ``train.seed``."""
    if not cfg.data.augment:
        return None
    return ImageAugment(seed=cfg.train.seed)


def _augment_note(augment: ImageAugment | None) -> str:
    if augment is None:
        return "off"
    return f"{augment!r}, CPC training images only"


def _grid_note(cfg: Config, grid: tuple[int, int]) -> str:
    enc = cfg.image_encoder
    gh, gw = grid
    return (
        f"{cfg.data.image_size}x{cfg.data.image_size} images, {enc.patch_size}x{enc.patch_size} "
        f"patches at stride {enc.stride} -> {gh}x{gw} grid read in {enc.order} order = "
        f"{gh * gw} latent steps, K = {cfg.model.prediction_steps}"
    )


# ----------------------------------------------------------------------------- images


def _has_class_folders(path: Path) -> bool:
    return path.is_dir() and any(p.is_dir() and not p.name.startswith(".") for p in path.iterdir())


def find_split_folders(root: str | Path) -> tuple[Path, Path] | None:
    """``(root/train, root/test)`` when both hold class subfolders, else None."""
    base = Path(root)
    train, test = base / "train", base / "test"
    if _has_class_folders(train) and _has_class_folders(test):
        return train, test
    return None


def _synthetic_bundle(
    make: Callable[..., SyntheticImageDataset | PairedSyntheticDataset],
    cfg: Config,
    augment: ImageAugment | None,
    *,
    what: str,
    kind: str,
    describe: Callable[[list[str]], str],
    noun: str,
) -> DataBundle:
    """The bundle of a synthetic dataset: ``train`` (augmented), ``probe_train``, ``probe_test``.

    ``info`` holds ``kind: describe(label names)`` and the counts of ``train``
    and ``probe-test`` ``noun``; ``what`` names the settings a ValueError is about.
    """
    d = cfg.data
    seed = cfg.train.seed
    try:
        probe_train = make(d.n_train, seed=seed)
        test = make(d.n_test, seed=seed + _TEST_SEED_OFFSET)
    except ValueError as exc:
        raise ConfigError(f"{what}: {exc}") from None
    train = probe_train if augment is None else make(d.n_train, seed=seed, augment=augment)
    names = list(probe_train.label_names)
    return DataBundle(
        train=train,
        probe_train=probe_train,
        probe_test=test,
        label_names=names,
        info={
            kind: describe(names),
            f"train {noun}": len(train),
            f"probe-test {noun}": len(test),
        },
    )


def _synthetic_images(cfg: Config, augment: ImageAugment | None) -> DataBundle:
    d = cfg.data
    make = partial(SyntheticImageDataset, image_size=d.image_size, n_classes=d.n_classes)
    return _synthetic_bundle(
        make,
        cfg,
        augment,
        what="synthetic images (data.n_classes, data.image_size)",
        kind="images",
        describe=lambda names: f"synthetic patterns, {d.n_classes} classes ({', '.join(names)})",
        noun="examples",
    )


def _folder(root: Path, cfg: Config) -> ImageFolderDataset:
    return ImageFolderDataset(root, image_size=cfg.data.image_size, cache=cfg.data.cache)


def _ratio_split(n: int, cfg: Config, *, test: bool) -> Split:
    d = cfg.data
    return split_by_ratio(
        n,
        val_fraction=d.val_fraction,
        test_fraction=d.test_fraction if test else 0.0,
        seed=cfg.train.seed,
    )


def _folder_images(cfg: Config, augment: ImageAugment | None) -> DataBundle:
    d = cfg.data
    if not d.image_root:
        raise ConfigError("data.image_root is not set: give the image folder (--image-root DIR)")
    root = Path(d.image_root)
    if not root.is_dir():
        raise DataError(f"data.image_root {str(root)!r} does not exist or is not a folder")
    folders = find_split_folders(root)
    if folders is not None:
        train_all, test = _folder(folders[0], cfg), _folder(folders[1], cfg)
        if train_all.label_names != test.label_names:
            raise DataError(
                f"the class folders of {str(folders[0])!r} ({', '.join(train_all.label_names)}) "
                f"and {str(folders[1])!r} ({', '.join(test.label_names)}) differ: give both "
                "splits the same classes"
            )
        split = _ratio_split(len(train_all), cfg, test=False)
        train_part = train_all.subset(split.train) if len(split.val) else train_all
        split_note = (
            f"folders train/ and test/: {len(train_part)} train, {len(split.val)} validation "
            f"(data.val_fraction of train/), {len(test)} probe-test images"
        )
        base, skipped = train_all, train_all.skipped + test.skipped
    else:
        base = _folder(root, cfg)
        if len(base) < 2:
            raise DataError(
                f"data.image_root {str(root)!r} holds {len(base)} readable image: a split needs at "
                "least 2"
            )
        split = _ratio_split(len(base), cfg, test=True)
        if len(split.test) == 0:
            raise ConfigError(
                "the end-of-train evaluation needs held-out images, but the probe-test split is "
                "empty: set data.test_fraction > 0 (or use train/ and test/ folders)"
            )
        train_part, test = base.subset(split.train), base.subset(split.test)
        split_note = (
            f"ratio, seed {cfg.train.seed}: {len(train_part)} train, {len(split.val)} validation, "
            f"{len(test)} probe-test images"
        )
        skipped = base.skipped
    val = base.subset(split.val) if len(split.val) else None
    train = train_part.with_augment(augment) if augment is not None else train_part
    names = base.label_names
    return DataBundle(
        train=train,
        probe_train=train_part,
        probe_test=test,
        val=val,
        label_names=list(names),
        info={
            "image root": str(root),
            "classes": f"{len(names)} ({', '.join(names[:8])}{', ...' if len(names) > 8 else ''})",
            "split": split_note,
            "skipped files": skipped,
        },
    )


def _bundle(
    cfg: Config,
    synthetic: Callable[[Config, ImageAugment | None], DataBundle],
    real: Callable[[Config, ImageAugment | None], DataBundle],
) -> DataBundle:
    """The synthetic or real datasets of an image-bearing run, with the patch and augment notes."""
    grid = check_image_grid(cfg)
    augment = make_augment(cfg)
    make = synthetic if cfg.data.use_mock_data else real
    bundle = make(cfg, augment)
    bundle.info["patches"] = _grid_note(cfg, grid)
    bundle.info["augmentation"] = _augment_note(augment)
    return bundle


def image_bundle(cfg: Config) -> DataBundle:
    """The datasets of an image run (see the module notes).

    Raises:
        ConfigError / DataError: one line naming the key or path at fault.
    """
    return _bundle(cfg, _synthetic_images, _folder_images)


# ----------------------------------------------------------------------------- pairs


def _synthetic_pairs(cfg: Config, augment: ImageAugment | None) -> DataBundle:
    d = cfg.data
    make = partial(
        PairedSyntheticDataset,
        n_classes=d.n_classes,
        sample_rate=d.sample_rate,
        duration=d.full_duration,
        noise_std=d.noise_std,
        freq_min=d.freq_min,
        freq_max=d.freq_max,
        image_size=d.image_size,
    )
    return _synthetic_bundle(
        make,
        cfg,
        augment,
        what="synthetic pairs (data section)",
        kind="pairs",
        describe=lambda names: (
            f"synthetic tone + pattern, {d.n_classes} shared classes ({'; '.join(names)})"
        ),
        noun="pairs",
    )


def _pair_split(ds: PairedCSVDataset, cfg: Config) -> Split:
    d = cfg.data
    if d.split == "ratio":
        return split_by_ratio(
            len(ds), val_fraction=d.val_fraction, test_fraction=d.test_fraction, seed=cfg.train.seed
        )
    if d.split == "group":
        if (ds.groups < 0).all():
            raise ConfigError(
                "data.split = 'group' holds out whole groups, but the pairs CSV has no 'group' "
                "column"
            )
        return split_by_group(
            ds.groups,
            val_fraction=d.val_fraction,
            test_fraction=d.test_fraction,
            seed=cfg.train.seed,
            group_names=ds.group_names,
        )
    raise ConfigError(
        f"data.split = {d.split!r} is not supported for a pairs CSV: use 'ratio' or 'group'"
    )


def _long_enough_pairs(ds: PairedCSVDataset, cfg: Config) -> tuple[PairedCSVDataset, str]:
    """The pairs whose audio gives one valid prediction, and a note on those dropped.

    Only a cached CSV is checked (its clips are decoded already); without
    the cache a batch of too-short clips stops training at its step instead.
    """
    from cpckit.data.audio_bundle import long_enough

    if not ds.cached:
        return ds, ""
    lengths = np.array([ds.clip(i).shape[0] for i in range(len(ds))], dtype=np.int64)
    names = [f"line {line} ({path})" for line, path in zip(ds.lines, ds.audio_paths)]
    keep, note = long_enough(lengths, names, cfg, f"of data.pairs_csv {ds.csv_path}")
    return (ds.subset(keep) if note else ds), note


def _csv_pairs(cfg: Config, augment: ImageAugment | None) -> DataBundle:
    from cpckit.build import check_audio_window

    d = cfg.data
    if not d.pairs_csv:
        raise ConfigError(
            "data.pairs_csv is not set: give a CSV of audio,image[,label] paths (--pairs-csv FILE)"
        )
    window = check_audio_window(cfg)
    found = PairedCSVDataset(
        d.pairs_csv,
        sample_rate=d.sample_rate,
        image_size=d.image_size,
        cache=d.cache,
        seed=cfg.train.seed,
    )
    base, too_short = _long_enough_pairs(found, cfg)
    split = _pair_split(base, cfg)
    if len(split.test) == 0:
        raise ConfigError(
            "the end-of-train evaluation needs held-out pairs, but the probe-test split is "
            "empty: set data.test_fraction > 0"
        )
    probe_train = base.subset(split.train)
    train = probe_train.with_window(window)
    if augment is not None:
        train = train.with_augment(augment)
    val = base.subset(split.val).with_window(window) if len(split.val) else None
    info: dict[str, Any] = {
        "pairs CSV": f"{d.pairs_csv} ({len(base)} pairs)",
        "labels": f"{len(base.label_names)} ({', '.join(base.label_names[:8])})"
        if base.label_names
        else "none (no 'label' column: no probe)",
        "split": f"{d.split}, seed {cfg.train.seed}: {len(split.train)} train, "
        f"{len(split.val)} validation, {len(split.test)} probe-test pairs",
        "window": f"{d.full_duration:g} s = {window} samples for CPC; whole clips for the probe",
    }
    if too_short:
        info["too-short clips"] = too_short
    return DataBundle(
        train=train,
        probe_train=probe_train,
        probe_test=base.subset(split.test),
        val=val,
        label_names=list(base.label_names),
        info=info,
    )


def multimodal_bundle(cfg: Config) -> DataBundle:
    """The datasets of a multimodal (audio + image pairs) run (see the module notes).

    Raises:
        ConfigError / DataError: one line naming the key or path at fault.
    """
    return _bundle(cfg, _synthetic_pairs, _csv_pairs)
