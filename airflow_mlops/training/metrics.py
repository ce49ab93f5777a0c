"""Task metrics overall and per slice, named as docs/architecture.md says.

Overall ``<metric>``; per slice ``slice/<column>/<value>/<metric>`` (flat, for MLflow) or nested
``{column: {value: {metric: x}}}`` (for XCom and the promotion rules). The one codec between the two shapes is
:func:`flatten` (to MLflow) and :func:`unflatten` (back from MLflow).
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from airflow_mlops.scoring.predict import Predictions

LOWER_IS_BETTER = {"mae", "rmse", "logloss"}
_UNSAFE = re.compile(r"[^A-Za-z0-9_\-. :]")


def higher_is_better(metric: str) -> bool:
    """Direction of a metric (bias: closer to zero is better, compared by absolute value)."""
    return metric not in LOWER_IS_BETTER and metric != "bias"


def better_value(metric: str, a: float, b: float) -> bool:
    """Whether ``a`` is strictly better than ``b`` for ``metric``."""
    if metric == "bias":
        return abs(a) < abs(b)
    return a > b if higher_is_better(metric) else a < b


def task_metrics(task: str, names: list[str], y_true: Any, scored: Predictions) -> dict[str, float]:
    """``names`` computed on one set of rows; a metric undefined there (e.g. auc with one class) is left out."""
    import numpy as np

    y = np.asarray(y_true)
    values: dict[str, float] = {}
    for name in names:
        try:
            value = _metric(task, name, y, scored)
        except ValueError:
            continue
        if value is not None and math.isfinite(value):
            values[name] = float(value)
    return values


def _metric(task: str, name: str, y: Any, scored: Predictions) -> float | None:
    import numpy as np
    from sklearn import metrics as m

    pred = np.asarray(scored.labels)
    if task == "regression":
        pred = pred.astype("float64")
        y = y.astype("float64")
        return {
            "mae": lambda: m.mean_absolute_error(y, pred),
            "rmse": lambda: math.sqrt(m.mean_squared_error(y, pred)),
            "r2": lambda: m.r2_score(y, pred) if len(y) > 1 else None,
            "bias": lambda: float(np.mean(pred - y)),
        }[name]()
    proba, classes = scored.proba, scored.classes
    binary = len(classes) == 2
    average = "binary" if binary else "macro"
    pos = {"pos_label": classes[1]} if binary else {}
    if name == "auc":
        if len(np.unique(y)) < 2:
            return None
        if binary:
            return m.roc_auc_score(y, proba[:, 1])
        return m.roc_auc_score(y, proba, multi_class="ovr", labels=classes)
    if name == "logloss":
        return m.log_loss(y, proba, labels=classes)
    if name == "accuracy":
        return m.accuracy_score(y, pred)
    scorer = {"f1": m.f1_score, "precision": m.precision_score, "recall": m.recall_score}[name]
    return scorer(y, pred, average=average, zero_division=0, **pos)


def slice_metrics(
    task: str, names: list[str], frame: pd.DataFrame, label: str, scored: Predictions, slices: list[str]
) -> dict[str, dict[str, dict[str, float]]]:
    """Nested ``{column: {value: {metric: x}}}`` for every value of every slice column in ``frame``."""
    import numpy as np

    nested: dict[str, dict[str, dict[str, float]]] = {}
    for column in slices:
        if column not in frame.columns:
            raise ValueError(f"training.slices: column {column!r} is not in the training set")
        keys = frame[column].astype("string").fillna("<null>").to_numpy()
        per_value: dict[str, dict[str, float]] = {}
        for value in sorted(set(keys)):
            idx = np.flatnonzero(keys == value)
            per_value[str(value)] = task_metrics(task, names, frame[label].to_numpy()[idx], scored.take(idx))
        nested[column] = per_value
    return nested


def metric_key(column: str, value: str, metric: str, prefix: str = "") -> str:
    """``[prefix/]slice/<column>/<value>/<metric>`` with characters MLflow rejects replaced by ``_``."""
    return f"{prefix}slice/{column}/{_UNSAFE.sub('_', value)}/{metric}"


def flatten(
    overall: dict[str, float], nested: dict[str, dict[str, dict[str, float]]], prefix: str = ""
) -> dict[str, float]:
    """MLflow metric names for overall and slice metrics, e.g. ``mae`` and ``slice/zone_type/airport/mae``."""
    flat = {f"{prefix}{k}": v for k, v in overall.items()}
    for column, per_value in nested.items():
        for value, values in per_value.items():
            for metric, x in values.items():
                flat[metric_key(column, value, metric, prefix)] = x
    return flat


Nested = dict[str, dict[str, dict[str, float]]]


def unflatten(flat: dict[str, Any], prefix: str = "") -> tuple[dict[str, float], Nested]:
    """The inverse of :func:`flatten`: ``(overall, nested)`` from MLflow metric names starting with ``prefix``.

    Names with another prefix (e.g. ``fresh/`` when ``prefix`` is empty) and non-numeric values are left out.
    """
    overall: dict[str, float] = {}
    nested: Nested = {}
    for key, value in flat.items():
        if not key.startswith(prefix) or not isinstance(value, int | float) or isinstance(value, bool):
            continue
        parts = key[len(prefix) :].split("/")
        if len(parts) == 1:
            overall[parts[0]] = float(value)
        elif len(parts) == 4 and parts[0] == "slice":
            nested.setdefault(parts[1], {}).setdefault(parts[2], {})[parts[3]] = float(value)
    return overall, nested
