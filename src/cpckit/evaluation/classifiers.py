"""The classifiers of the probes: standardised features, then a linear or a one-hidden-layer head."""

from __future__ import annotations

from typing import Any

from cpckit.errors import CpckitError

__all__ = ["CLASSIFIERS", "LINEAR_CV_CS", "make_classifier"]

CLASSIFIERS = ("linear", "linear-cv", "mlp")
"""Valid values of ``classifier=``."""

LINEAR_MAX_ITER = 5000
LINEAR_CV_CS = (1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0, 10.0)
"""Inverse L2 strengths ``C`` that ``linear-cv`` chooses from."""
LINEAR_CV_FOLDS = 5
MLP_HIDDEN = 256
MLP_MAX_ITER = 500


def make_classifier(classifier: str = "linear", seed: int = 0) -> Any:
    """An unfitted sklearn pipeline: ``StandardScaler`` then the classifier.

    Args:
        classifier: ``linear`` (logistic regression, lbfgs, ``C = 1``),
            ``linear-cv`` (the same with ``C`` chosen from
            :data:`LINEAR_CV_CS` by 5-fold stratified cross-validation on the
            training data only) or ``mlp`` (one hidden layer of 256 ReLU
            units, Adam).
        seed: seed of the MLP's initialisation (the linear fit is deterministic).

    Raises:
        CpckitError: for an unknown classifier name.
    """
    from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if classifier == "linear":
        head: Any = LogisticRegression(solver="lbfgs", max_iter=LINEAR_MAX_ITER)
    elif classifier == "linear-cv":
        head = LogisticRegressionCV(
            Cs=list(LINEAR_CV_CS), cv=LINEAR_CV_FOLDS, solver="lbfgs", max_iter=LINEAR_MAX_ITER
        )
    elif classifier == "mlp":
        head = MLPClassifier(
            hidden_layer_sizes=(MLP_HIDDEN,), max_iter=MLP_MAX_ITER, random_state=seed
        )
    else:
        raise CpckitError(
            f"probe classifier {classifier!r} is unknown; valid: {', '.join(CLASSIFIERS)}"
        )
    return make_pipeline(StandardScaler(), head)
