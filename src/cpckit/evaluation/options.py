"""The settings of one ``cpckit evaluate`` run, and their checks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cpckit.errors import UsageError
from cpckit.evaluation.classifiers import CLASSIFIERS
from cpckit.evaluation.splits import GROUP_PROTOCOLS, PROTOCOLS
from cpckit.model import POOLS

__all__ = ["EvaluateOptions", "check_options"]


@dataclass
class EvaluateOptions:
    """Settings of one evaluation (the ``cpckit evaluate`` flags).

    Attributes:
        protocol: ``split``, ``kfold``, ``fraction``, ``group`` or ``logo``.
        classifier: ``linear``, ``linear-cv`` or ``mlp``.
        label_regex: regex whose named groups give labels (folders).
        label_key: label to probe (a regex group, ``folder``, or an array of the table).
        group_key: groups for ``--protocol group`` and ``logo`` (e.g. the speaker).
        baselines: names from :data:`BASELINES`; None = ``random`` and the
            input baseline of the modality (none for a table).
        frame_labels: alignment file for frame-level probes, or None.
        test_fraction: test share (ratio split; groups for the group split).
        folds: k of k-fold.
        fit_fraction: fit share of the fraction protocol.
        seed: seed of every split, the random model and the classifiers.
        max_frames: cap on frames per side of a frame-level probe.
        pool: pooling of vectors over time.
        batch_size: rows per embedding batch.
        finetune_epochs, finetune_lr, finetune_batch_size, finetune_window_seconds:
            the supervised and fine-tuned baselines (the fine-tuned encoder and
            context model learn at ``finetune_lr / 10``).
        geometry: alignment and uniformity.
        tsne: t-SNE map of the context vectors.
        progress: progress bars.
        run_defaults: with ``run_data``, the fields of ``seed``, ``classifier``
            and ``pool`` taken from the run's config instead (``train.seed``,
            ``eval.classifier``, ``eval.pool``): those the user did not set.
    """

    protocol: str = "split"
    classifier: str = "linear"
    label_regex: str | None = None
    label_key: str | None = None
    group_key: str | None = None
    baselines: Sequence[str] | None = None
    frame_labels: str | Path | None = None
    test_fraction: float = 0.2
    folds: int = 5
    fit_fraction: float = 0.1
    seed: int = 0
    max_frames: int | None = 20000
    pool: str = "mean"
    batch_size: int = 32
    finetune_epochs: int = 5
    finetune_lr: float = 1e-3
    finetune_batch_size: int = 16
    finetune_window_seconds: float | None = None
    geometry: bool = True
    tsne: bool = True
    progress: bool = False
    run_defaults: tuple[str, ...] = ()


def check_options(opts: EvaluateOptions, fixed_split: bool) -> None:
    """Every option valid on its own and with the others (before anything is loaded)."""
    if opts.protocol not in PROTOCOLS:
        raise UsageError(f"--protocol {opts.protocol!r} is unknown; valid: {', '.join(PROTOCOLS)}")
    if opts.classifier not in CLASSIFIERS:
        raise UsageError(
            f"--classifier {opts.classifier!r} is unknown; valid: {', '.join(CLASSIFIERS)}"
        )
    if opts.pool not in POOLS:
        raise UsageError(f"--pool {opts.pool!r} is unknown; valid: {', '.join(POOLS)}")
    if fixed_split and opts.protocol != "split":
        raise UsageError(
            f"--test-root gives a fixed train/test split; it goes with --protocol split, "
            f"not {opts.protocol}"
        )
    if opts.protocol in GROUP_PROTOCOLS and opts.group_key is None:
        raise UsageError(
            f"--protocol {opts.protocol} needs --group-key, the groups to hold out (e.g. speaker)"
        )
    if opts.label_regex is not None and opts.label_key is None and opts.frame_labels is None:
        raise UsageError(
            "--label-regex needs --label-key, the regex group to probe "
            f"(e.g. --label-key {_first_group(opts.label_regex)})"
        )
    if not 0 < opts.test_fraction < 1:
        raise UsageError(f"--test-fraction = {opts.test_fraction} must be in (0, 1)")
    if not 0 < opts.fit_fraction < 1:
        raise UsageError(f"--fit-fraction = {opts.fit_fraction} must be in (0, 1)")
    if opts.max_frames is not None and opts.max_frames < 2:
        raise UsageError(f"--max-frames = {opts.max_frames} must be >= 2")


def _first_group(regex: str) -> str:
    import re

    try:
        groups = list(re.compile(regex).groupindex)
    except re.error:
        return "NAME"
    return groups[0] if groups else "NAME"
