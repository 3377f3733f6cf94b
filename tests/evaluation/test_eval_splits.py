"""The one split builder: the probes and the protocols of `cpckit evaluate` draw the same splits."""

from __future__ import annotations

import numpy as np

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
