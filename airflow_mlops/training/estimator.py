"""Build the scikit-learn estimator a spec names: dotted path lookup (never eval) and param checks."""

from __future__ import annotations

import difflib
import importlib
import inspect
from typing import Any

PRIMARY_METRIC = {"regression": "mae", "classification": "auc"}


class EstimatorError(ValueError):
    """The spec's ``training.estimator`` or ``training.params`` cannot be used."""


def estimator_class(dotted: str) -> type:
    """The class at ``dotted`` (e.g. ``sklearn.linear_model.Ridge``), imported by module/attribute lookup."""
    if not dotted.startswith("sklearn.") or "." not in dotted:
        raise EstimatorError(
            f"training.estimator: {dotted!r} is not a scikit-learn class path (sklearn.<module>.<Class>)"
        )
    module_name, _, attr = dotted.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise EstimatorError(f"training.estimator: cannot import module {module_name!r} ({exc})") from exc
    cls = getattr(module, attr, None)
    if cls is None:
        raise EstimatorError(f"training.estimator: module {module_name!r} has no attribute {attr!r}")
    from sklearn.base import BaseEstimator

    if not (inspect.isclass(cls) and issubclass(cls, BaseEstimator)):
        raise EstimatorError(f"training.estimator: {dotted!r} is not a scikit-learn estimator class")
    return cls


def check_kind(cls: type, task: str, dotted: str) -> None:
    """Fail unless ``cls`` is a regressor (regression) or a classifier with predict_proba (classification)."""
    from sklearn.base import is_classifier, is_regressor

    probe = cls()
    if task == "regression" and not is_regressor(probe):
        raise EstimatorError(f"training.estimator: {dotted!r} is not a regressor, but model.task is regression")
    if task == "classification":
        if not is_classifier(probe):
            raise EstimatorError(
                f"training.estimator: {dotted!r} is not a classifier, but model.task is classification"
            )
        if not hasattr(probe, "predict_proba"):
            raise EstimatorError(f"training.estimator: {dotted!r} has no predict_proba (needed for auc and logloss)")


def build_estimator(dotted: str, params: dict[str, Any], task: str, random_state: int | None = None) -> Any:
    """An unfitted estimator with ``params`` checked against its ``get_params()`` and its own constraints."""
    cls = estimator_class(dotted)
    check_kind(cls, task, dotted)
    valid = cls().get_params(deep=False)
    for name in params:
        if name not in valid:
            close = difflib.get_close_matches(name, valid, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise EstimatorError(
                f"training.params: {dotted} has no parameter {name!r}{hint} (valid: {', '.join(sorted(valid))})"
            )
    chosen = dict(params)
    if random_state is not None and "random_state" in valid and "random_state" not in chosen:
        chosen["random_state"] = random_state
    estimator = cls(**chosen)
    validate = getattr(estimator, "_validate_params", None)
    if validate is not None:
        try:
            validate()
        except (ValueError, TypeError) as exc:
            raise EstimatorError(f"training.params: {exc}") from exc
    return estimator
