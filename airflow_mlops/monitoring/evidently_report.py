"""Build one Evidently report (feature drift, prediction drift, model quality) and read its headline numbers.

Evidently 0.7 has no dataset-drift boolean: the drifted share comes from ``DriftedColumnsCount`` and is
compared with the spec's ``monitoring.drift.share_of_drifted_columns``. Drift covers the feature columns
only (passed explicitly); prediction drift is a separate ``ValueDrift`` on the prediction column.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_mlops.monitoring.data import PREDICTION

if TYPE_CHECKING:
    import pandas as pd

    from airflow_mlops.spec import ModelSpec


def column_kinds(frame: pd.DataFrame, columns: list[str], categorical: list[str]) -> tuple[list[str], list[str]]:
    """``(numerical, categorical)`` feature columns: declared categoricals and text/bool columns are categorical."""
    import pandas as pd

    cat = [
        c
        for c in columns
        if c in categorical or not pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c])
    ]
    return [c for c in columns if c not in cat], cat


def build_report(
    spec: ModelSpec, reference: pd.DataFrame, current: pd.DataFrame, with_quality: bool
) -> tuple[Any, dict[str, Any]]:
    """Run the report on ``current`` against ``reference``; return ``(snapshot, headline)``.

    Both frames hold the feature columns and ``prediction``; with ``with_quality`` both also hold the
    label (the reference's from training, the current's joined from the label source).
    """
    from evidently import BinaryClassification, DataDefinition, Dataset, Regression, Report
    from evidently.metrics import ValueDrift
    from evidently.presets import ClassificationPreset, DataDriftPreset, RegressionPreset

    features = spec.features.feature_names
    label = spec.features.label
    threshold = spec.monitoring.drift.share_of_drifted_columns
    numerical, categorical = column_kinds(reference, features, spec.training.categorical)
    columns = [*features, PREDICTION] + ([label] if with_quality else [])
    definition: dict[str, Any] = {"numerical_columns": [*numerical, PREDICTION], "categorical_columns": categorical}
    metrics: list[Any] = [DataDriftPreset(columns=features, drift_share=threshold), ValueDrift(column=PREDICTION)]
    if with_quality:
        if spec.model.task == "regression":
            definition["numerical_columns"].append(label)
            definition["regression"] = [Regression(target=label, prediction=PREDICTION)]
            metrics.append(RegressionPreset())
        else:
            definition["categorical_columns"] = [*categorical, label]
            definition["classification"] = [BinaryClassification(target=label, prediction_probas=PREDICTION)]
            metrics.append(ClassificationPreset())
    data_definition = DataDefinition(**definition)
    cur = current[columns].copy()
    ref = reference[columns].copy()
    if with_quality and spec.model.task == "classification":
        cur[label] = cur[label].astype(int)
        ref[label] = ref[label].astype(int)
    snapshot = Report(metrics).run(
        Dataset.from_pandas(cur, data_definition=data_definition),
        Dataset.from_pandas(ref, data_definition=data_definition),
    )
    return snapshot, headline_numbers(snapshot.dict(), features, threshold)


def headline_numbers(report: dict[str, Any], features: list[str], threshold: float) -> dict[str, Any]:
    """Drifted share, per-column drift scores and prediction drift from a report's ``dict()``."""
    drift: dict[str, Any] = {"share": None, "count": None, "columns": len(features), "threshold": threshold}
    scores: dict[str, dict[str, Any]] = {}
    prediction: dict[str, Any] | None = None
    for metric in report.get("metrics", []):
        config = metric.get("config") or {}
        kind = str(config.get("type", ""))
        if kind.endswith(":DriftedColumnsCount"):
            drift["share"] = float(metric["value"]["share"])
            drift["count"] = int(metric["value"]["count"])
        elif kind.endswith(":ValueDrift"):
            method, limit = str(config.get("method")), float(config.get("threshold"))
            score = float(metric["value"])
            drifted = score < limit if "p_value" in method else score >= limit
            entry = {"score": score, "method": method, "threshold": limit, "drifted": bool(drifted)}
            if config.get("column") == PREDICTION:
                prediction = entry
            else:
                scores[str(config.get("column"))] = entry
    drift["scores"] = scores
    drift["detected"] = drift["share"] is not None and drift["share"] >= threshold  # as Evidently's dataset drift
    return {"drift": drift, "prediction_drift": prediction}
