"""Fit the spec's pipeline on the older rows and measure it on the fresh window."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_mlops.scoring.predict import predict
from airflow_mlops.training.estimator import build_estimator
from airflow_mlops.training.metrics import slice_metrics, task_metrics
from airflow_mlops.training.preprocess import build_pipeline, categorical_columns
from airflow_mlops.training.split import Window, fresh_window_split
from airflow_mlops.validation.errors import DataError, missing_columns_message

if TYPE_CHECKING:
    import pandas as pd

    from airflow_mlops.spec import ModelSpec


@dataclass
class TrainResult:
    """A fitted pipeline, the split it was measured on, and its holdout metrics."""

    pipeline: Any
    train: pd.DataFrame
    holdout: pd.DataFrame
    window: Window
    metrics: dict[str, float]
    slice_metrics: dict[str, dict[str, dict[str, float]]]
    numeric: list[str]
    categorical: list[str]
    fit_seconds: float = 0.0
    params: dict[str, Any] = field(default_factory=dict)


def metric_names(spec: ModelSpec) -> list[str]:
    """The spec's metrics plus the task's primary metric (the one champion and challenger are compared by)."""
    from airflow_mlops.training.estimator import PRIMARY_METRIC

    names = list(spec.training.metrics or [])
    primary = PRIMARY_METRIC[spec.model.task]
    return names if primary in names else [primary, *names]


def check_columns(frame: pd.DataFrame, spec: ModelSpec) -> None:
    """Raise :class:`DataError` naming the missing columns, or the null labels the gate let through.

    The validate task quarantines null labels before training (``validation.label``); a null label here
    means the dataset did not come through the gate.
    """
    needed = list(dict.fromkeys([*spec.features.feature_names, spec.features.label, spec.training.holdout.by]))
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        known = [spec.features.entity, spec.features.timestamp, *needed]
        raise DataError(missing_columns_message("training set", missing, [str(c) for c in frame.columns], known))
    nulls = int(frame[spec.features.label].isna().sum())
    if nulls:
        raise DataError(
            f"label {spec.features.label!r} has {nulls} nulls of {len(frame)} rows; "
            "train on the validate task's output, which quarantines them"
        )


def evaluate_on(
    model: Any, frame: pd.DataFrame, spec: ModelSpec, features: list[str] | None = None
) -> tuple[dict, dict]:
    """(overall metrics, nested slice metrics) of ``model`` on ``frame`` (``features`` default to the spec's)."""
    names = metric_names(spec)
    features = features or spec.features.feature_names
    scored = predict(model, frame[features], spec.model.task)
    overall = task_metrics(spec.model.task, names, frame[spec.features.label], scored)
    slices = slice_metrics(spec.model.task, names, frame, spec.features.label, scored, spec.training.slices)
    return overall, slices


def train(frame: pd.DataFrame, spec: ModelSpec) -> TrainResult:
    """Split by time, fit the estimator pipeline on the older rows, measure it on the fresh window."""
    check_columns(frame, spec)
    t = spec.training
    features = spec.features.feature_names
    estimator = build_estimator(t.estimator, t.params, spec.model.task, t.random_state)
    categorical = categorical_columns(frame, features, t.categorical)
    numeric = [c for c in features if c not in categorical]
    pipeline = build_pipeline(estimator, numeric, categorical)
    older, fresh, window = fresh_window_split(frame, t.holdout.by, t.holdout.fraction)
    if spec.model.task == "classification" and older[spec.features.label].nunique() < 2:
        raise DataError(f"label {spec.features.label!r} has a single class in the training rows")
    started = time.perf_counter()
    pipeline.fit(older[features], older[spec.features.label])
    fit_seconds = time.perf_counter() - started
    overall, slices = evaluate_on(pipeline, fresh, spec)
    return TrainResult(
        pipeline=pipeline,
        train=older,
        holdout=fresh,
        window=window,
        metrics=overall,
        slice_metrics=slices,
        numeric=numeric,
        categorical=categorical,
        fit_seconds=fit_seconds,
        params=estimator.get_params(deep=False),
    )
