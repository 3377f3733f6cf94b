"""The train/test splits of every evaluation protocol, drawn in one place.

The probes of :mod:`cpckit.evaluation.probe`, the trained baselines and the
frame-level probes of ``cpckit evaluate`` all take their splits from here,
so for the same labels, groups and seed they see exactly the same rows:

- ``split``: a fixed split (``--test-root``) or a seeded ratio split,
  stratified when every class can be;
- ``kfold``: stratified k-fold (shuffled, seeded), or plain k-fold without labels;
- ``fraction``: fit on a seeded stratified fraction, test on the rest;
- ``group``: a seeded share of the groups held out (no group on both sides);
- ``logo``: leave one group out, a fold per group (each group tested once).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from cpckit.errors import CpckitError, UsageError

if TYPE_CHECKING:
    from cpckit.evaluation.options import EvaluateOptions

__all__ = [
    "GROUP_PROTOCOLS",
    "PROTOCOLS",
    "Split",
    "fraction_split",
    "group_split",
    "kfold_splits",
    "logo_splits",
    "option_splits",
    "protocol_name",
    "protocol_splits",
]

PROTOCOLS = ("split", "kfold", "fraction", "group", "logo")
"""Valid values of ``--protocol``."""
GROUP_PROTOCOLS = ("group", "logo")
"""The protocols that split by ``--group-key``."""

Split = tuple[np.ndarray, np.ndarray]
"""``(train, test)`` row indices."""


def _can_stratify(labels: np.ndarray, n_test: int, n_train: int) -> bool:
    _, counts = np.unique(labels, return_counts=True)
    k = len(counts)
    return bool(counts.min() >= 2 and n_test >= k and n_train >= k)


def kfold_splits(n: int, labels: np.ndarray | None, folds: int, seed: int) -> list[Split]:
    """Shuffled k-fold, stratified by ``labels`` when given."""
    from sklearn.model_selection import KFold, StratifiedKFold

    if labels is not None:
        splitter: Any = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        return list(splitter.split(np.zeros((n, 1)), labels))
    return list(KFold(n_splits=folds, shuffle=True, random_state=seed).split(np.arange(n)))


def fraction_split(n: int, labels: np.ndarray | None, n_fit: int, seed: int) -> Split:
    """``n_fit`` rows to fit on and the rest to test, stratified when every class can be."""
    from sklearn.model_selection import train_test_split

    strat = labels if labels is not None and _can_stratify(labels, n - n_fit, n_fit) else None
    tr, te = train_test_split(np.arange(n), train_size=n_fit, stratify=strat, random_state=seed)
    return tr, te


def group_split(
    groups: np.ndarray, labels: np.ndarray | None, test_fraction: float, seed: int
) -> Split:
    """About ``test_fraction`` of the groups held out; no group on both sides."""
    from sklearn.model_selection import GroupShuffleSplit

    gss = GroupShuffleSplit(n_splits=1, test_size=test_fraction, random_state=seed)
    tr, te = next(gss.split(np.arange(len(groups)), labels, groups))
    return tr, te


def logo_splits(groups: np.ndarray) -> list[Split]:
    """Leave one group out: a fold per group (in sorted order), testing that group."""
    from sklearn.model_selection import LeaveOneGroupOut

    idx = np.arange(len(groups))
    return list(LeaveOneGroupOut().split(idx, None, groups))


def protocol_splits(
    protocol: str,
    n: int,
    labels: np.ndarray | None = None,
    groups: np.ndarray | None = None,
    *,
    fixed: Split | None = None,
    folds: int = 5,
    fit_fraction: float = 0.1,
    test_fraction: float = 0.2,
    seed: int = 0,
) -> list[Split]:
    """The ``(train, test)`` index pairs of a protocol.

    The same splits as :func:`~cpckit.evaluation.probe.probe_kfold`,
    :func:`~cpckit.evaluation.probe.probe_fraction`,
    :func:`~cpckit.evaluation.probe.probe_group` and
    :func:`~cpckit.evaluation.probe.probe_logo` draw for these labels, groups
    and seed (stratified by ``labels`` when given), so trained baselines and
    frame-level probes see exactly the probes' splits.
    """
    from sklearn.model_selection import train_test_split

    if protocol == "split":
        if fixed is not None:
            return [fixed]
        n_test = int(math.ceil(test_fraction * n))
        strat = labels if labels is not None and _can_stratify(labels, n_test, n - n_test) else None
        tr, te = train_test_split(
            np.arange(n), test_size=test_fraction, stratify=strat, random_state=seed
        )
        return [(np.sort(tr), np.sort(te))]
    if protocol == "kfold":
        if folds < 2 or n < folds:
            raise CpckitError(f"--folds = {folds} needs 2 <= folds <= {n} (the number of rows)")
        return kfold_splits(n, labels, folds, seed)
    if protocol == "fraction":
        n_fit = int(np.floor(fit_fraction * n))
        if not 0 < n_fit < n:
            raise CpckitError(
                f"--fit-fraction = {fit_fraction} of {n} rows leaves no row to fit on or to test"
            )
        return [fraction_split(n, labels, n_fit, seed)]
    if protocol in GROUP_PROTOCOLS:
        if groups is None:
            raise UsageError(f"--protocol {protocol} needs --group-key (e.g. the speaker)")
        if len(np.unique(groups)) < 2:
            raise CpckitError(f"--protocol {protocol} needs at least 2 distinct groups")
        if protocol == "logo":
            return logo_splits(groups)
        return [group_split(groups, labels, test_fraction, seed)]
    raise UsageError(f"--protocol {protocol!r} is unknown; valid: {', '.join(PROTOCOLS)}")


def option_splits(
    opts: EvaluateOptions,
    n: int,
    labels: np.ndarray | None,
    groups: np.ndarray | None,
    fixed: Split | None,
) -> list[Split]:
    """:func:`protocol_splits` with the protocol and settings of ``opts``."""
    return protocol_splits(
        opts.protocol,
        n,
        labels,
        groups,
        fixed=fixed,
        folds=opts.folds,
        fit_fraction=opts.fit_fraction,
        test_fraction=opts.test_fraction,
        seed=opts.seed,
    )


def protocol_name(opts: EvaluateOptions, fixed: bool, n_groups: int = 0) -> str:
    """The protocol as the result rows name it, e.g. ``kfold (5 folds)``."""
    if opts.protocol == "split":
        return "split (--test-root)" if fixed else f"split ({opts.test_fraction:g} held out)"
    if opts.protocol == "kfold":
        return f"kfold ({opts.folds} folds)"
    if opts.protocol == "fraction":
        return f"fraction (fit on {opts.fit_fraction:g})"
    if opts.protocol == "logo":
        return f"logo ({n_groups} groups, one held out per fold)"
    return f"group ({opts.test_fraction:g} of groups held out)"
