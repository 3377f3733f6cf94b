"""The one split builder: the probes and the protocols of `cpckit evaluate` draw the same splits."""

from __future__ import annotations

import numpy as np
import pytest

from cpckit.evaluation.probe import probe_fraction, probe_group, probe_kfold
from cpckit.evaluation.splits import protocol_splits


def test_protocol_splits_match_the_probe_protocols() -> None:
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 10)
    g = np.tile(np.arange(6), 5)
    x = rng.standard_normal((30, 4)) + y[:, None]
    folds = protocol_splits("kfold", 30, y, folds=5, seed=3)
    res = probe_kfold(x, y, folds=5, seed=3)
    assert res.folds is not None
    assert [len(te) for _, te in folds] == [f.n_test for f in res.folds]
    ((tr, te),) = protocol_splits("fraction", 30, y, fit_fraction=0.2, seed=1)
    assert len(tr) == probe_fraction(x, y, fit_fraction=0.2, seed=1).n_train
    ((tr, te),) = protocol_splits("group", 30, y, g, test_fraction=0.34, seed=2)
    assert not set(g[tr]) & set(g[te])
    assert len(te) == probe_group(x, y, g, test_fraction=0.34, seed=2).n_test


def test_logo_splits_hold_out_each_group_once_as_the_probe_does() -> None:
    from cpckit.evaluation.probe import probe_logo

    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 10)
    g = np.tile(np.arange(6), 5)
    x = rng.standard_normal((30, 4)) + y[:, None]
    folds = protocol_splits("logo", 30, y, g, seed=3)
    assert len(folds) == len(np.unique(g)) == 6
    assert [np.unique(g[te]).tolist() for _, te in folds] == [[k] for k in range(6)]
    for tr, te in folds:
        assert not set(g[tr]) & set(g[te]) and len(tr) + len(te) == 30
    res = probe_logo(x, y, g, seed=3)
    assert res.folds is not None
    assert [len(te) for _, te in folds] == [f.n_test for f in res.folds]


def test_group_protocols_need_groups() -> None:
    from cpckit.errors import CpckitError

    y = np.repeat([0, 1], 5)
    for protocol in ("group", "logo"):
        with pytest.raises(CpckitError, match=f"--protocol {protocol} needs --group-key"):
            protocol_splits(protocol, 10, y)
        with pytest.raises(CpckitError, match="at least 2 distinct groups"):
            protocol_splits(protocol, 10, y, np.zeros(10))
