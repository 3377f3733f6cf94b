"""Probes: simple classifiers trained on frozen features.

The linear probe is the standard measure of a self-supervised representation
(van den Oord et al. 2018, "Representation Learning with Contrastive
Predictive Coding", sec. 3: "a linear classifier on top of" the frozen
features). Features are standardised with statistics of the training part
only, then fed to a multinomial logistic regression; the ``mlp`` probe has
one hidden layer, as for the phone-classification comparison in the CPC paper
(:mod:`cpckit.evaluation.classifiers`).

Protocols (each returns a :class:`ProbeResult`; their splits come from
:mod:`cpckit.evaluation.splits`):

- :func:`probe_split`: a given train/test split;
- :func:`probe_kfold`: stratified k-fold cross-validation (mean and std);
- :func:`probe_fraction`: fit on a small stratified fraction (10 %), test on the rest;
- :func:`probe_group`: test on groups (e.g. speakers) never seen in training;
- :func:`probe_logo`: leave one group out, each group tested once (mean and std);
- :func:`probe_frames`: frame-level labels over variable-length sequences.

Each takes ``features`` ``(N, F)`` and ``labels`` ``(N,)`` (numpy or torch;
``probe_split`` and ``probe_frames`` one pair per side), a ``classifier``
from :data:`CLASSIFIERS` and a ``seed`` (of the split and of the MLP).
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from cpckit.errors import CpckitError
from cpckit.evaluation.classifiers import CLASSIFIERS, LINEAR_CV_CS, make_classifier
from cpckit.evaluation.splits import fraction_split, group_split, kfold_splits, logo_splits

__all__ = [
    "CLASSIFIERS",
    "LINEAR_CV_CS",
    "FoldScore",
    "ProbeResult",
    "make_classifier",
    "probe_fraction",
    "probe_frames",
    "probe_group",
    "probe_kfold",
    "probe_logo",
    "probe_split",
]


@dataclass
class FoldScore:
    """Accuracies of one cross-validation fold."""

    train_accuracy: float
    test_accuracy: float
    n_train: int
    n_test: int


@dataclass
class ProbeResult:
    """Accuracy of a probe under one protocol.

    Attributes:
        train_accuracy: accuracy on the samples it was fit on (mean over folds
            for k-fold and logo).
        test_accuracy: accuracy on held-out samples (mean over folds).
        n_train: training samples (over folds: the rounded mean per fold).
        n_test: test samples (over folds: all N, each tested once).
        protocol: ``split``, ``kfold``, ``fraction``, ``group``, ``logo`` or ``frames``.
        classifier: ``linear``, ``linear-cv`` or ``mlp``.
        folds: per-fold scores (k-fold and logo), else ``None``.
        std: standard deviation of the fold test accuracies (k-fold and
            logo, ``ddof=0``), else ``None``.
        n_classes: classes in the training labels.
        chance_accuracy: test accuracy of always predicting the most frequent
            training class (the floor to compare against).
        info: protocol details (folds, fraction, group counts, subsampling).
    """

    train_accuracy: float
    test_accuracy: float
    n_train: int
    n_test: int
    protocol: str
    classifier: str
    folds: list[FoldScore] | None = None
    std: float | None = None
    n_classes: int = 0
    chance_accuracy: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict (folds as a list of dicts)."""
        return asdict(self)


def _numpy(values: Any) -> Any:
    """A torch tensor as a numpy array; anything else as it is."""
    return values.detach().cpu().numpy() if hasattr(values, "detach") else values


def _check(features: Any, labels: Any, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Validate ``(N, F)`` features and ``(N,)`` labels; return float64 / label arrays."""
    x = np.asarray(_numpy(features), dtype=np.float64)
    y = np.asarray(_numpy(labels))
    if x.ndim != 2:
        raise CpckitError(
            f"probe {what} features must have shape (N, F), got shape {tuple(x.shape)}"
        )
    if y.ndim != 1:
        raise CpckitError(f"probe {what} labels must have shape (N,), got shape {tuple(y.shape)}")
    if x.shape[0] != y.shape[0]:
        raise CpckitError(
            f"probe {what} features and labels disagree: {x.shape[0]} feature rows but {y.shape[0]} labels"
        )
    if x.shape[0] == 0:
        raise CpckitError(f"probe {what} set is empty")
    if not np.isfinite(x).all():
        bad = int((~np.isfinite(x)).any(axis=1).sum())
        raise CpckitError(
            f"probe {what} features have NaN or infinite values in {bad} of {x.shape[0]} rows"
        )
    return x, y


def _py(value: Any) -> Any:
    """A numpy scalar as the Python value (for readable messages)."""
    return value.item() if hasattr(value, "item") else value


def _check_classes(y: np.ndarray, what: str) -> np.ndarray:
    """The classes of ``y``; at least two, and at least as many samples as classes."""
    classes = np.unique(y)
    if len(classes) < 2:
        raise CpckitError(
            f"probe {what} labels have only one class ({_py(classes[0])!r}); a probe needs at least 2"
        )
    if len(y) < len(classes):
        raise CpckitError(
            f"probe {what} set has {len(y)} samples, fewer than its {len(classes)} classes"
        )
    return classes


def _check_groups(groups: Any, y: np.ndarray, what: str) -> np.ndarray:
    """``(N,)`` group ids of at least 2 distinct groups."""
    g = np.asarray(_numpy(groups))
    if g.shape != y.shape:
        raise CpckitError(
            f"{what} groups must have shape (N,) = {tuple(y.shape)}, got shape {tuple(g.shape)}"
        )
    n_groups = len(np.unique(g))
    if n_groups < 2:
        raise CpckitError(f"{what} needs at least 2 distinct groups, got {n_groups}")
    return g


def _chance(y_train: np.ndarray, y_test: np.ndarray) -> float:
    values, counts = np.unique(y_train, return_counts=True)
    return float(np.mean(y_test == values[np.argmax(counts)]))


def _scored(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    classifier: str,
    seed: int,
    protocol: str,
    n_classes: int,
    info: dict[str, Any] | None = None,
) -> ProbeResult:
    """One probe fit on the train part and scored on both parts."""
    model = make_classifier(classifier, seed)
    with warnings.catch_warnings():
        # scikit-learn announces changes of LogisticRegressionCV's defaults
        # (l1_ratios, scoring, fitted attributes) that do not change this fit
        warnings.filterwarnings("ignore", category=FutureWarning, module="sklearn")
        model.fit(x_train, y_train)
    return ProbeResult(
        train_accuracy=float(model.score(x_train, y_train)),
        test_accuracy=float(model.score(x_test, y_test)),
        n_train=len(y_train),
        n_test=len(y_test),
        protocol=protocol,
        classifier=classifier,
        n_classes=n_classes,
        chance_accuracy=_chance(y_train, y_test),
        info=info or {},
    )


def _folds(
    x: np.ndarray,
    y: np.ndarray,
    splits: list[tuple[np.ndarray, np.ndarray]],
    classifier: str,
    seed: int,
    protocol: str,
    info: dict[str, Any],
) -> ProbeResult:
    """A probe per fold: mean and std of the fold accuracies, every row tested once."""
    fits = [_scored(x[tr], y[tr], x[te], y[te], classifier, seed, protocol, 0) for tr, te in splits]
    scores = [FoldScore(f.train_accuracy, f.test_accuracy, f.n_train, f.n_test) for f in fits]
    test = np.array([s.test_accuracy for s in scores])
    return ProbeResult(
        train_accuracy=float(np.mean([s.train_accuracy for s in scores])),
        test_accuracy=float(test.mean()),
        n_train=round(float(np.mean([s.n_train for s in scores]))),
        n_test=len(y),
        protocol=protocol,
        classifier=classifier,
        folds=scores,
        std=float(test.std()),
        n_classes=len(np.unique(y)),
        chance_accuracy=sum(f.chance_accuracy * f.n_test for f in fits) / len(y),
        info=info,
    )


def probe_split(
    x_train: Any,
    y_train: Any,
    x_test: Any,
    y_test: Any,
    classifier: str = "linear",
    seed: int = 0,
) -> ProbeResult:
    """Fit a probe on a given training split and score it on a given test split.

    Args:
        x_train, y_train: ``(N_train, F)`` features and ``(N_train,)`` labels.
        x_test, y_test: ``(N_test, F)`` features and ``(N_test,)`` labels.

    Raises:
        CpckitError: on mismatched shapes, a single training class, fewer
            training samples than classes, or an unknown classifier.
    """
    xa, ya = _check(x_train, y_train, "train")
    xb, yb = _check(x_test, y_test, "test")
    if xa.shape[1] != xb.shape[1]:
        raise CpckitError(
            f"probe train and test features differ in width: {xa.shape[1]} and {xb.shape[1]}"
        )
    classes = _check_classes(ya, "train")
    return _scored(xa, ya, xb, yb, classifier, seed, "split", len(classes))


def probe_kfold(
    features: Any, labels: Any, folds: int = 5, seed: int = 0, classifier: str = "linear"
) -> ProbeResult:
    """Stratified k-fold cross-validated probe accuracy (mean and std over folds).

    Each sample is tested exactly once; every fold keeps the class
    proportions. The scaler is refit on each training part.

    Args:
        folds: number of folds (>= 2).

    Raises:
        CpckitError: on mismatched shapes, one class, ``folds < 2``, or a class
            with fewer than ``folds`` samples.
    """
    x, y = _check(features, labels, "k-fold")
    if folds < 2:
        raise CpckitError(f"probe_kfold folds must be >= 2, got {folds}")
    _check_classes(y, "k-fold")
    if len(y) < folds:
        raise CpckitError(
            f"probe_kfold with folds={folds} needs at least {folds} samples, got {len(y)}"
        )
    values, counts = np.unique(y, return_counts=True)
    if counts.min() < folds:
        raise CpckitError(
            f"probe_kfold with folds={folds} needs at least {folds} samples of every class; "
            f"class {_py(values[np.argmin(counts)])!r} has {int(counts.min())}"
        )
    splits = kfold_splits(len(y), y, folds, seed)
    return _folds(x, y, splits, classifier, seed, "kfold", {"folds": folds, "seed": seed})


def probe_fraction(
    features: Any, labels: Any, fit_fraction: float = 0.1, seed: int = 0, classifier: str = "linear"
) -> ProbeResult:
    """Fit on a small stratified fraction of the samples, test on all the others.

    The low-label regime (e.g. 10 % of the labels), where a good
    representation shows most clearly against raw-input baselines.

    Args:
        fit_fraction: share of samples to fit on, in (0, 1).

    Raises:
        CpckitError: on mismatched shapes, one class, a fraction outside
            (0, 1), or when either part would hold fewer samples than classes.
    """
    x, y = _check(features, labels, "fraction")
    if not 0.0 < fit_fraction < 1.0:
        raise CpckitError(f"probe_fraction fit_fraction must be in (0, 1), got {fit_fraction}")
    classes = _check_classes(y, "fraction")
    n_fit = int(np.floor(fit_fraction * len(y)))
    n_rest = len(y) - n_fit
    if n_fit < len(classes) or n_rest < len(classes):
        raise CpckitError(
            f"probe_fraction with fit_fraction={fit_fraction} on {len(y)} samples gives {n_fit} to fit "
            f"and {n_rest} to test; each part needs at least one sample per class ({len(classes)})"
        )
    _, counts = np.unique(y, return_counts=True)
    if counts.min() < 2:
        raise CpckitError(
            "probe_fraction needs at least 2 samples of every class for a stratified split"
        )
    tr, te = fraction_split(len(y), y, n_fit, seed)
    info = {"fit_fraction": fit_fraction, "seed": seed}
    return _scored(x[tr], y[tr], x[te], y[te], classifier, seed, "fraction", len(classes), info)


def probe_group(
    features: Any,
    labels: Any,
    groups: Any,
    test_fraction: float = 0.25,
    seed: int = 0,
    classifier: str = "linear",
) -> ProbeResult:
    """Test on groups never seen in training (e.g. unseen speakers).

    About ``test_fraction`` of the groups (not samples) are held out; no
    group has samples on both sides. When features encode the group (speaker
    identity) and labels correlate with it, random splits overstate accuracy;
    this split does not.

    Args:
        groups: ``(N,)`` group ids.
        test_fraction: share of groups held out, in (0, 1).

    Raises:
        CpckitError: on mismatched shapes, fewer than 2 groups, a fraction
            outside (0, 1), or a training part with a single class.
    """
    x, y = _check(features, labels, "group")
    g = _check_groups(groups, y, "probe_group")
    if not 0.0 < test_fraction < 1.0:
        raise CpckitError(f"probe_group test_fraction must be in (0, 1), got {test_fraction}")
    _check_classes(y, "group")
    tr, te = group_split(g, y, test_fraction, seed)
    n_classes = len(np.unique(y[tr]))
    if n_classes < 2:
        raise CpckitError(
            "probe_group: the training groups hold only one class; use more groups or another seed"
        )
    info = {
        "test_fraction": test_fraction,
        "seed": seed,
        "train_groups": len(np.unique(g[tr])),
        "test_groups": len(np.unique(g[te])),
    }
    return _scored(x[tr], y[tr], x[te], y[te], classifier, seed, "group", n_classes, info)


def probe_logo(
    features: Any, labels: Any, groups: Any, seed: int = 0, classifier: str = "linear"
) -> ProbeResult:
    """Leave one group out: a fold per group, fit on all the others (mean and std over folds).

    Every group (e.g. speaker) is held out in turn, so every sample is tested
    once, by a probe that never saw its group; reported as :func:`probe_kfold`
    reports its folds.

    Args:
        groups: ``(N,)`` group ids (at least 2 distinct).

    Raises:
        CpckitError: on mismatched shapes, fewer than 2 groups, or a fold
            whose training groups hold a single class.
    """
    x, y = _check(features, labels, "logo")
    g = _check_groups(groups, y, "probe_logo")
    _check_classes(y, "logo")
    splits = logo_splits(g)
    for tr, te in splits:
        if len(np.unique(y[tr])) < 2:
            raise CpckitError(
                f"probe_logo: without group {_py(g[te[0]])!r}, the other groups hold only one class"
            )
    return _folds(x, y, splits, classifier, seed, "logo", {"groups": len(splits), "seed": seed})


def _stack_frames(frames: Any, labels: Any, what: str) -> tuple[np.ndarray, np.ndarray, int]:
    """Concatenate ``[(T_i, F)]`` frames and ``[(T_i,)]`` labels, checking each pair."""
    frames, labels = list(frames), list(labels)
    if len(frames) != len(labels):
        raise CpckitError(
            f"probe_frames {what}: {len(frames)} frame sequences but {len(labels)} label sequences"
        )
    if not frames:
        raise CpckitError(f"probe_frames {what}: no sequences")
    xs, ys = [], []
    width: int | None = None
    for i, (f, lab) in enumerate(zip(frames, labels)):
        x, y = _check(f, lab, f"{what} sequence {i}")
        if width is not None and x.shape[1] != width:
            raise CpckitError(
                f"probe_frames {what} sequence {i} has {x.shape[1]} features per frame, "
                f"sequence 0 has {width}"
            )
        width = x.shape[1]
        xs.append(x)
        ys.append(y)
    return np.concatenate(xs), np.concatenate(ys), len(xs)


def probe_frames(
    train_frames: Any,
    train_labels: Any,
    test_frames: Any,
    test_labels: Any,
    classifier: str = "linear",
    max_frames: int | None = None,
    seed: int = 0,
) -> ProbeResult:
    """Frame-level probe (e.g. phone classification from per-frame context vectors).

    Sequences are flattened into one set of frames per side. With
    ``max_frames``, each side keeps a seeded random subset of at most that
    many frames (frame-level data grows fast: 100 frames per second of audio).

    Args:
        train_frames, train_labels: lists of ``(T_i, F)`` and ``(T_i,)`` arrays.
        test_frames, test_labels: lists of ``(T_j, F)`` and ``(T_j,)`` arrays.
        max_frames: cap on frames per side (seeded by ``seed``); ``None`` = all.

    Raises:
        CpckitError: on mismatched lengths or widths, a single class, or
            ``max_frames < 2``.
    """
    if max_frames is not None and max_frames < 2:
        raise CpckitError(f"probe_frames max_frames must be >= 2 or None, got {max_frames}")
    xa, ya, n_train_seq = _stack_frames(train_frames, train_labels, "train")
    xb, yb, n_test_seq = _stack_frames(test_frames, test_labels, "test")
    total = (len(ya), len(yb))
    rng = np.random.default_rng(seed)
    if max_frames is not None and len(ya) > max_frames:
        keep = np.sort(rng.choice(len(ya), size=max_frames, replace=False))
        xa, ya = xa[keep], ya[keep]
    if max_frames is not None and len(yb) > max_frames:
        keep = np.sort(rng.choice(len(yb), size=max_frames, replace=False))
        xb, yb = xb[keep], yb[keep]
    result = probe_split(xa, ya, xb, yb, classifier=classifier, seed=seed)
    result.protocol = "frames"
    result.info = {
        "train_sequences": n_train_seq,
        "test_sequences": n_test_seq,
        "train_frames_total": total[0],
        "test_frames_total": total[1],
        "max_frames": max_frames,
    }
    return result
