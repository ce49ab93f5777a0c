"""The inputs of a monitoring report: the champion, its training set, the newest scoring input, labels."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_mlops import settings

if TYPE_CHECKING:
    import pandas as pd

    from airflow_mlops.hooks.mlflow import MLflowHook
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


def champion(hook: MLflowHook, model: str) -> Champion | None:
    """The version behind alias ``champion`` with its run's tags; None when there is no champion.

    Only "no such model / alias" means None; an unreachable or failing MLflow raises.
    """
    mv = hook.version_by_alias(model, "champion")
    if mv is None:
        return None
    tags = hook.run_tags(mv.run_id) if mv.run_id else {}
    return Champion(name=model, version=mv.version, run_id=mv.run_id, tags=tags)


def newest_score_input(model: str) -> Any:
    """The newest parquet file materialized for scoring (``datasets/<model>/score/``, local or object storage)."""
    from airflow_mlops.datasets import newest_parquet

    return newest_parquet(settings.model_datasets_dir(model, "score"))


def sample(df: pd.DataFrame, rows: int, seed: int = 0) -> pd.DataFrame:
    """At most ``rows`` rows, drawn uniformly without replacement (the order is kept)."""
    if len(df) <= rows:
        return df
    return df.sample(n=rows, random_state=seed).sort_index()


def prediction_column(model: Any, task: str, features: pd.DataFrame) -> Any:
    """One number per row for drift and quality (:attr:`~airflow_mlops.scoring.predict.Predictions.score`)."""
    from airflow_mlops.scoring.predict import predict

    return predict(model, features, task).score


def attach_labels(spec: ModelSpec, current: pd.DataFrame, label_file: Any = None) -> pd.DataFrame:
    """``current`` with the label joined from the spec's label source on entity + timestamp (NaN when none)."""
    import pandas as pd

    from airflow_mlops import datasets

    f = spec.features
    label_file = label_file or settings.input_path(f.label_source)
    keys = [f.entity, f.timestamp]
    if f.label in current.columns or not set(keys) <= set(current.columns) or not datasets.exists(label_file):
        return current
    labels = datasets.read_parquet(label_file, columns=[*keys, f.label]).drop_duplicates(keys, keep="last")
    for key in keys:
        if key == f.timestamp:  # naive stamps are UTC (as Feast reads them); compare both sides in UTC
            current = current.assign(**{key: pd.to_datetime(current[key], utc=True)})
            labels[key] = pd.to_datetime(labels[key], utc=True)
        if str(current[key].dtype) != str(labels[key].dtype):
            labels[key] = labels[key].astype(current[key].dtype)
    return current.merge(labels, on=keys, how="left")


def log_duration(log: Any, what: str) -> _Timer:
    """Context manager that logs how long its block took (``<what> took 1.23s``)."""
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
