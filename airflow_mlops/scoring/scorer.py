"""Score a parquet dataset with one registered model version, chunk by chunk (bounded memory).

Shared by the score task and ``airflow-mlops reproduce``, so both compute predictions the same way
(:func:`airflow_mlops.scoring.predict.predict`). Models come from
:meth:`MLflowHook.load_model <airflow_mlops.hooks.mlflow.MLflowHook.load_model>`, which loads a version only as our
training DAG registered it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_mlops.threads import PREDICT_THREADS_ENV, thread_limit

if TYPE_CHECKING:
    import pyarrow as pa

    from airflow_mlops.spec import ModelSpec


def entity_is_text(dataset: str | Path, entity: str) -> bool:
    """True when the dataset's entity column is not an integer (stored as TEXT)."""
    import pyarrow as pa

    from airflow_mlops.datasets import parquet_file

    with parquet_file(dataset) as parquet:
        schema = parquet.schema_arrow
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


def score_batches(
    model: Any,
    dataset: str | Path,
    entity: str,
    timestamp: str,
    feature_names: list[str],
    chunk_rows: int,
    task: str,
) -> Iterator[pa.RecordBatch]:
    """Writer batches (row_id, entity, timestamp, prediction, probability), ``chunk_rows`` input rows at a time."""
    import numpy as np
    import pyarrow as pa

    from airflow_mlops.datasets import parquet_file
    from airflow_mlops.scoring.predict import predict, stored_values
    from airflow_mlops.scoring.writers import make_batch

    # pre_buffer=False: with pyarrow's default read-ahead, iter_batches keeps every row group's buffers until the
    # file is closed, so memory grew ~18 MB per million rows; without it, memory stays flat however many rows.
    with parquet_file(dataset, pre_buffer=False) as parquet:
        missing = [c for c in [entity, timestamp, *feature_names] if c not in parquet.schema_arrow.names]
        if missing:
            raise ValueError(f"dataset {dataset} lacks column(s) {missing}")
        start = 0
        for chunk in parquet.iter_batches(batch_size=chunk_rows, columns=[entity, timestamp, *feature_names]):
            features = chunk.select(feature_names).to_pandas()
            with thread_limit(PREDICT_THREADS_ENV):  # not across the yield: the consumer (the writer) runs unlimited
                prediction, probability = stored_values(predict(model, features, task))
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
