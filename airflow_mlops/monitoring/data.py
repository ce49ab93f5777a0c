"""The inputs of a monitoring report: the champion, its training set, the newest scoring input, labels."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_mlops import settings

if TYPE_CHECKING:
    import pandas as pd
    from mlflow.tracking import MlflowClient

    from airflow_mlops.spec import ModelSpec

PREDICTION = "prediction"


@dataclass
class Champion:
    """The serving model version and what its training run recorded."""

    name: str
    version: str
    run_id: str
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def dataset_path(self) -> str | None:
        return self.tags.get("mlops.dataset_path")


def champion(client: MlflowClient, model: str) -> Champion | None:
    """The version behind alias ``champion`` with its run's tags; None when there is no champion."""
    try:
        mv = client.get_model_version_by_alias(model, "champion")
    except Exception:  # no registered model or no alias
        return None
    tags = dict(client.get_run(mv.run_id).data.tags) if mv.run_id else {}
    return Champion(name=model, version=str(mv.version), run_id=mv.run_id or "", tags=tags)


def newest_score_input(model: str) -> Path | None:
    """The newest parquet file materialized for scoring (``datasets/<model>/score/``)."""
    files = [p for p in settings.model_datasets_dir(model, "score").rglob("*.parquet") if p.is_file()]
    return max(files, key=lambda p: (p.stat().st_mtime, p.name)) if files else None


def sample(df: pd.DataFrame, rows: int, seed: int = 0) -> pd.DataFrame:
    """At most ``rows`` rows, drawn uniformly without replacement (the order is kept)."""
    if len(df) <= rows:
        return df
    return df.sample(n=rows, random_state=seed).sort_index()


def predict(model: Any, task: str, features: pd.DataFrame) -> Any:
    """Predictions for drift and quality: values for regression, positive-class probability for classification."""
    if task == "classification" and hasattr(model, "predict_proba"):
        return model.predict_proba(features)[:, 1]
    return model.predict(features)


def attach_labels(spec: ModelSpec, current: pd.DataFrame, label_file: Path | None = None) -> pd.DataFrame:
    """``current`` with the label joined from the spec's label source on entity + timestamp (NaN when none)."""
    import pandas as pd

    f = spec.features
    label_file = label_file or settings.data_dir() / f.label_source
    keys = [f.entity, f.timestamp]
    if f.label in current.columns or not label_file.exists() or not set(keys) <= set(current.columns):
        return current
    labels = pd.read_parquet(label_file, columns=[*keys, f.label]).drop_duplicates(keys, keep="last")
    for key in keys:
        if str(current[key].dtype) != str(labels[key].dtype):
            labels[key] = labels[key].astype(current[key].dtype)
    return current.merge(labels, on=keys, how="left")


def timed(log: Any, what: str) -> _Timer:
    return _Timer(log, what)


class _Timer:
    def __init__(self, log: Any, what: str) -> None:
        self.log, self.what = log, what

    def __enter__(self) -> _Timer:
        self.t0 = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.log is not None:
            self.log.info("%s took %.2fs", self.what, time.monotonic() - self.t0)
