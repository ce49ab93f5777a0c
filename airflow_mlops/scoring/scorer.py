"""Score a parquet dataset with one registered model version, chunk by chunk (bounded memory).

Shared by the score task and ``airflow-mlops reproduce``, so both compute predictions the same way. Models
come from :meth:`MLflowHook.load_model <airflow_mlops.hooks.mlflow.MLflowHook.load_model>`, which loads a version
only as our training DAG registered it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

    from airflow_mlops.spec import ModelSpec


@dataclass(frozen=True)
class ModelRef:
    """A concrete registered model version."""

    name: str
    version: str
    run_id: str


def resolve_alias(client: Any, name: str, alias: str) -> ModelRef | None:
    """The version an alias points at now, or None when the alias (or the model) does not exist."""
    from mlflow.exceptions import MlflowException

    try:
        mv = client.get_model_version_by_alias(name, alias)
    except MlflowException as exc:
        if getattr(exc, "error_code", "") in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND", "INVALID_PARAMETER_VALUE"):
            return None
        raise
    return ModelRef(name, str(mv.version), mv.run_id or "")


def entity_is_text(dataset: str | Path, entity: str) -> bool:
    """True when the dataset's entity column is not an integer (stored as TEXT)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pq.read_schema(dataset)
    if entity not in schema.names:
        raise ValueError(f"dataset {dataset} has no entity column {entity!r} (columns: {schema.names})")
    return not pa.types.is_integer(schema.field(entity).type)


def scores_table(spec: ModelSpec, dataset: str | Path):
    """The :class:`~airflow_mlops.scoring.table.ScoresTable` of a spec, its entity type read from the dataset."""
    from airflow_mlops.scoring.table import ScoresTable

    return ScoresTable(
        name=spec.scoring.destination.table,
        entity=spec.features.entity,
        timestamp=spec.features.timestamp,
        entity_is_text=entity_is_text(dataset, spec.features.entity),
    )


def predict(model: Any, features: Any, classification: bool) -> tuple[Any, Any]:
    """``(prediction, probability)`` arrays; probability is None for regressors.

    Classifiers: probability of the positive class for binary models, of the predicted class otherwise.
    """
    import numpy as np

    prediction = model.predict(features)
    if not classification or not hasattr(model, "predict_proba"):
        return np.asarray(prediction, dtype="float64"), None
    proba = model.predict_proba(features)
    probability = proba[:, 1] if proba.shape[1] == 2 else proba.max(axis=1)
    try:
        prediction = np.asarray(prediction, dtype="float64")
    except (TypeError, ValueError) as exc:
        raise ValueError("classification labels must be numeric to be stored as predictions") from exc
    return prediction, probability


def score_batches(
    model: Any,
    dataset: str | Path,
    entity: str,
    timestamp: str,
    feature_names: list[str],
    chunk_rows: int,
    classification: bool,
) -> Iterator[pa.RecordBatch]:
    """Writer batches (row_id, entity, timestamp, prediction, probability), ``chunk_rows`` input rows at a time."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from airflow_mlops.scoring.writers import make_batch

    # pre_buffer=False: with pyarrow's default read-ahead, iter_batches keeps every row group's buffers until the
    # file is closed, so memory grew ~18 MB per million rows; without it, memory stays flat however many rows.
    parquet = pq.ParquetFile(dataset, pre_buffer=False)
    missing = [c for c in [entity, timestamp, *feature_names] if c not in parquet.schema_arrow.names]
    if missing:
        raise ValueError(f"dataset {dataset} lacks column(s) {missing}")
    start = 0
    for chunk in parquet.iter_batches(batch_size=chunk_rows, columns=[entity, timestamp, *feature_names]):
        features = chunk.select(feature_names).to_pandas()
        prediction, probability = predict(model, features, classification)
        keys = chunk.column(entity)
        if pa.types.is_integer(keys.type):
            keys = keys.cast(pa.int64())
        elif not pa.types.is_string(keys.type):
            keys = keys.cast(pa.string())
        n = chunk.num_rows
        yield make_batch(
            np.arange(start, start + n, dtype="int64"), keys, chunk.column(timestamp), prediction, probability
        )
        start += n
