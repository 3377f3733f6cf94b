"""Probe protocols on synthetic features with known answers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cpckit.errors import CpckitError
from cpckit.evaluation.probe import (
    ProbeResult,
    make_classifier,
    probe_fraction,
    probe_frames,
    probe_group,
    probe_kfold,
    probe_logo,
    probe_split,
)


def _blobs(
    n_per_class: int = 100, classes: int = 3, dim: int = 8, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(classes, dim)) * 10.0
    y = np.repeat(np.arange(classes), n_per_class)
    x = centres[y] + rng.normal(size=(len(y), dim))
    perm = rng.permutation(len(y))
    return x[perm], y[perm]


def _noise(n: int = 2000, dim: int = 20, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.repeat([0, 1], n // 2))
    return rng.normal(size=(n, dim)), y


def _leaky(groups: int = 200, per_group: int = 5, dim: int = 256, seed: int = 2):
    """Features that encode the group id; labels constant within a group, random across groups."""
    rng = np.random.default_rng(seed)
    group_vec = rng.normal(size=(groups, dim))
    group_label = rng.permutation(np.repeat([0, 1], groups // 2))
    g = np.repeat(np.arange(groups), per_group)
    x = group_vec[g] + 0.1 * rng.normal(size=(len(g), dim))
    return x, group_label[g], g


def test_eval_probe_split_separable_blobs_near_one() -> None:
    x, y = _blobs()
    res = probe_split(x[:200], y[:200], x[200:], y[200:])
    assert res.test_accuracy >= 0.98
    assert res.train_accuracy >= 0.98
    assert (res.n_train, res.n_test, res.protocol, res.classifier) == (200, 100, "split", "linear")
    assert res.n_classes == 3
    assert 0.2 < res.chance_accuracy < 0.5


def test_eval_probe_split_matches_scaler_fit_on_train_only() -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    x, y = _noise(n=400, dim=5)
    x_test = x[300:] * 3.0 + 5.0  # a shifted test set: its own statistics must not be used
    scaler = StandardScaler().fit(x[:300])
    clf = LogisticRegression(max_iter=5000).fit(scaler.transform(x[:300]), y[:300])
    expected = clf.score(scaler.transform(x_test), y[300:])
    res = probe_split(x[:300], y[:300], x_test, y[300:])
    assert res.test_accuracy == pytest.approx(expected)


def test_eval_probe_kfold_blobs_and_fold_details() -> None:
    x, y = _blobs()
    res = probe_kfold(x, y, folds=5, seed=0)
    assert res.test_accuracy >= 0.98
    assert res.protocol == "kfold"
    assert res.folds is not None and len(res.folds) == 5
    assert sum(f.n_test for f in res.folds) == len(y) == res.n_test
    assert res.std is not None and 0.0 <= res.std < 0.05
    assert res.test_accuracy == pytest.approx(np.mean([f.test_accuracy for f in res.folds]))


def test_eval_probe_noise_labels_at_chance() -> None:
    x, y = _noise()
    assert abs(probe_kfold(x, y, folds=5).test_accuracy - 0.5) < 0.1
    assert abs(probe_fraction(x, y, fit_fraction=0.1).test_accuracy - 0.5) < 0.1
    assert abs(probe_split(x[:1500], y[:1500], x[1500:], y[1500:]).test_accuracy - 0.5) < 0.1


def test_eval_probe_fraction_sizes_and_stratification() -> None:
    x, y = _blobs(n_per_class=100, classes=2)
    res = probe_fraction(x, y, fit_fraction=0.1, seed=3)
    assert (res.n_train, res.n_test) == (20, 180)
    assert res.test_accuracy >= 0.98
    assert res.info["fit_fraction"] == 0.1


def test_eval_probe_group_split_exposes_group_leakage() -> None:
    x, y, g = _leaky()
    kfold = probe_kfold(x, y, folds=5)
    rng = np.random.default_rng(0)
    perm = rng.permutation(len(y))
    random_split = probe_split(x[perm[:750]], y[perm[:750]], x[perm[750:]], y[perm[750:]])
    grouped = probe_group(x, y, g, test_fraction=0.25, seed=0)
    assert kfold.test_accuracy > 0.9
    assert random_split.test_accuracy > 0.9
    assert abs(grouped.test_accuracy - 0.5) < 0.15
    assert grouped.info["train_groups"] + grouped.info["test_groups"] == 200
    assert grouped.info["test_groups"] == 50


def test_eval_probe_group_never_shares_a_group() -> None:
    from sklearn.model_selection import GroupShuffleSplit

    x, y, g = _leaky(groups=20, per_group=3, dim=8)
    res = probe_group(x, y, g, seed=4)
    train_idx, test_idx = next(
        GroupShuffleSplit(n_splits=1, test_size=0.25, random_state=4).split(x, y, g)
    )
    assert not set(g[train_idx]) & set(g[test_idx])
    assert (res.n_train, res.n_test) == (len(train_idx), len(test_idx))


def _shifted(groups: int, classes: int = 3, per: int = 10, seed: int = 0):
    """Features (label + group offset, group offset): group g shifts the label axis by g classes."""
    rng = np.random.default_rng(seed)
    y = np.tile(np.repeat(np.arange(classes), per), groups)
    g = np.repeat(np.arange(groups), classes * per)
    x = np.stack([y + g, g], axis=1) + 0.05 * rng.standard_normal((len(y), 2))
    return x, y, g


def test_eval_probe_logo_holds_out_each_group_once() -> None:
    # the offset varies over the training groups: the probe reads label = x0 - x1 everywhere
    x, y, g = _shifted(groups=4)
    res = probe_logo(x, y, g)
    assert res.folds is not None and len(res.folds) == 4 == res.info["groups"]
    assert [f.n_test for f in res.folds] == [30, 30, 30, 30]
    assert (res.n_train, res.n_test, res.protocol) == (90, 120, "logo")
    assert res.test_accuracy == 1.0 and res.std == 0.0


def test_eval_probe_logo_on_a_one_class_shift_scores_one_class_in_three() -> None:
    # two groups: each fold trains on one offset, and the held-out group's features sit one
    # class over; only the class at the end of the axis is still named right
    x, y, g = _shifted(groups=2)
    res = probe_logo(x, y, g)
    assert res.folds is not None and len(res.folds) == 2
    assert [f.test_accuracy for f in res.folds] == pytest.approx([1 / 3, 1 / 3])
    assert res.test_accuracy == pytest.approx(1 / 3) and res.std == pytest.approx(0.0)
    assert res.train_accuracy == 1.0
    assert probe_kfold(x, y, folds=5).test_accuracy > 0.95  # both groups seen: no shift
    with pytest.raises(CpckitError, match="at least 2 distinct groups, got 1"):
        probe_logo(x, y, np.zeros(len(y)))
    with pytest.raises(CpckitError, match="without group 1, the other groups hold only one class"):
        probe_logo(x, np.where(g == 0, 0, y), g)


def test_eval_probe_frames_shapes_and_cap() -> None:
    rng = np.random.default_rng(5)
    lengths = [7, 12, 5, 9]
    frames = [rng.normal(size=(t, 6)) for t in lengths]
    labels = [(f[:, 0] > 0).astype(int) for f in frames]
    res = probe_frames(frames, labels, frames[:2], labels[:2])
    assert (res.n_train, res.n_test) == (sum(lengths), 19)
    assert res.protocol == "frames"
    assert res.test_accuracy >= 0.9
    capped = probe_frames(frames, labels, frames, labels, max_frames=20, seed=1)
    assert (capped.n_train, capped.n_test) == (20, 20)
    assert capped.info["train_frames_total"] == sum(lengths)
    assert capped.info["train_sequences"] == 4


def test_eval_probe_mlp_classifier() -> None:
    x, y = _blobs(n_per_class=40, classes=2, dim=4)
    res = probe_split(x[:60], y[:60], x[60:], y[60:], classifier="mlp")
    assert res.classifier == "mlp"
    assert res.test_accuracy >= 0.95


def test_eval_probe_result_to_dict_is_json() -> None:
    x, y = _blobs(n_per_class=20, classes=2)
    res = probe_kfold(x, y, folds=3)
    d = res.to_dict()
    assert isinstance(res, ProbeResult)
    assert json.loads(json.dumps(d))["folds"][0]["n_test"] > 0
    assert set(d) >= {
        "train_accuracy",
        "test_accuracy",
        "n_train",
        "n_test",
        "protocol",
        "classifier",
        "folds",
        "std",
    }


def test_eval_probe_errors_one_class() -> None:
    x = np.ones((10, 3))
    with pytest.raises(CpckitError, match=r"only one class \(7\)"):
        probe_split(x, np.full(10, 7), x, np.full(10, 7))


def test_eval_probe_errors_shapes() -> None:
    x, y = _blobs(n_per_class=10, classes=2)
    with pytest.raises(CpckitError, match="20 feature rows but 19 labels"):
        probe_split(x, y[:-1], x, y)
    with pytest.raises(CpckitError, match="differ in width: 8 and 7"):
        probe_split(x, y, x[:, :7], y)
    with pytest.raises(CpckitError, match=r"shape \(N, F\)"):
        probe_kfold(x[:, 0], y)
    with pytest.raises(CpckitError, match="groups must have shape"):
        probe_group(x, y, np.arange(5))


def test_eval_probe_errors_too_few_samples() -> None:
    x, y = _blobs(n_per_class=3, classes=2)
    with pytest.raises(CpckitError, match="needs at least 5 samples of every class; class 0 has 3"):
        probe_kfold(x, y, folds=5)
    with pytest.raises(CpckitError, match="each part needs at least one sample per class"):
        probe_fraction(x, y, fit_fraction=0.1)
    with pytest.raises(CpckitError, match="at least 2 distinct groups, got 1"):
        probe_group(x, y, np.zeros(len(y)))


def test_eval_probe_errors_bad_options() -> None:
    x, y = _blobs(n_per_class=10, classes=2)
    with pytest.raises(
        CpckitError, match="classifier 'svm' is unknown; valid: linear, linear-cv, mlp"
    ):
        make_classifier("svm")
    with pytest.raises(CpckitError, match="folds must be >= 2, got 1"):
        probe_kfold(x, y, folds=1)
    with pytest.raises(CpckitError, match=r"fit_fraction must be in \(0, 1\), got 1.5"):
        probe_fraction(x, y, fit_fraction=1.5)
    with pytest.raises(CpckitError, match="NaN or infinite values in 1 of 20 rows"):
        x_bad = x.copy()
        x_bad[3, 1] = np.nan
        probe_split(x_bad, y, x, y)
    with pytest.raises(CpckitError, match="2 frame sequences but 1 label sequences"):
        probe_frames([x, x], [y], [x], [y])
    with pytest.raises(CpckitError, match="sequence 1 has 3 features per frame, sequence 0 has 8"):
        probe_frames([x, x[:, :3]], [y, y], [x], [y])


def test_linear_cv_picks_c_on_the_training_split_only() -> None:
    from cpckit.evaluation.probe import LINEAR_CV_CS, make_classifier

    # few samples, many noisy features: strong regularisation wins
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 40)
    x = rng.normal(size=(80, 400))
    x[:, :5] += 0.8 * (2 * y[:, None] - 1)
    model = make_classifier("linear-cv").fit(x, y)
    chosen = model[-1].C_[0]
    assert chosen in LINEAR_CV_CS and chosen < 1.0
    xt = rng.normal(size=(400, 400))
    yt = np.repeat([0, 1], 200)
    xt[:, :5] += 0.8 * (2 * yt[:, None] - 1)
    cv_acc = probe_split(x, y, xt, yt, classifier="linear-cv").test_accuracy
    plain_acc = probe_split(x, y, xt, yt, classifier="linear").test_accuracy
    assert cv_acc > plain_acc
