"""Predictions of a loaded model: the one place that decides how a model is asked (scoring, evaluation,
monitoring, ``airflow-mlops reproduce`` and the servability probe all call :func:`predict`).

The classifier rule: a model of a ``classification`` spec is a classifier with ``predict_proba`` (the spec check
in :mod:`airflow_mlops.training.estimator` refuses any other), so it is always asked for probabilities; a model
of a ``regression`` spec never is. Its :attr:`Predictions.score` is the probability of the positive class for
binary models and of the predicted class otherwise; for regressors it is the predicted value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CLASSIFICATION = "classification"


@dataclass(frozen=True)
class Predictions:
    """What a model said about some rows."""

    labels: Any  # model.predict: values (regression) or class labels
    proba: Any = None  # predict_proba matrix (classification only)
    classes: list | None = None  # model.classes_, the columns of ``proba``

    @property
    def probability(self) -> Any:
        """Positive-class probability (binary), predicted-class probability (multiclass); None for regressors."""
        if self.proba is None:
            return None
        return self.proba[:, 1] if self.proba.shape[1] == 2 else self.proba.max(axis=1)

    @property
    def score(self) -> Any:
        """One number per row: :attr:`probability` for classifiers, the predicted value for regressors."""
        return self.labels if self.proba is None else self.probability

    def take(self, idx: Any) -> Predictions:
        """The predictions of rows ``idx`` only."""
        return Predictions(self.labels[idx], None if self.proba is None else self.proba[idx], self.classes)

    def __len__(self) -> int:
        return len(self.labels)


def predict(model: Any, features: Any, task: str) -> Predictions:
    """Ask ``model`` about ``features`` as the spec's ``task`` says (see the module docstring)."""
    import numpy as np

    labels = np.asarray(model.predict(features))
    if task != CLASSIFICATION:
        return Predictions(labels)
    return Predictions(labels, np.asarray(model.predict_proba(features)), list(model.classes_))


def stored_values(predictions: Predictions) -> tuple[Any, Any]:
    """``(prediction, probability)`` as float64 arrays for the scores table (probability None for regressors)."""
    import numpy as np

    try:
        values = np.asarray(predictions.labels, dtype="float64")
    except (TypeError, ValueError) as exc:
        raise ValueError("classification labels must be numeric to be stored as predictions") from exc
    probability = predictions.probability
    return values, None if probability is None else np.asarray(probability, dtype="float64")
