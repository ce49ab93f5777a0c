"""Materialize a model's features with Feast and build its training set or scoring input."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from airflow_mlops import settings
from airflow_mlops.datasets import save_parquet
from airflow_mlops.operators.base import SpecOperator
from airflow_mlops.spec.paths import contained, inside
from airflow_mlops.spec.schema import duration_seconds

if TYPE_CHECKING:
    import pandas as pd

    from airflow_mlops.spec import ModelSpec

# Start of "all data" when a run has no data interval (manual runs, `airflow dags test`).
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_WINDOW = timedelta(days=1)


class FeastMaterializeOperator(SpecOperator):
    """Apply the Feast repo when it changed, materialize the run's data interval, build the dataset.

    ``purpose="train"``: the spec's label source (entity, timestamp, label) joined point-in-time with
    the features. ``purpose="score"``: the scoring source (else the label source without its label)
    within the data interval, or the newest day when the interval holds no rows. The dataset is saved
    as ``datasets/<model>/<purpose>/<sha256>.parquet``; re-running an interval gives the same file.

    :param purpose: ``train`` or ``score``.
    :param fs_yaml_file: Feast config file inside the repo (default: ``$FEAST_FS_YAML_FILE_PATH`` or
        ``feature_store.yaml``).
    """

    template_fields = (*SpecOperator.template_fields, "fs_yaml_file")
    ui_color = "#fde8d7"

    def __init__(self, *, purpose: Literal["train", "score"], fs_yaml_file: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if purpose not in ("train", "score"):
            raise ValueError(f"purpose must be 'train' or 'score', got {purpose!r}")
        self.purpose = purpose
        self.fs_yaml_file = fs_yaml_file

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow_mlops.hooks.feast import FeastHook

        started = time.monotonic()
        started_at = datetime.now(UTC)
        spec = self.spec
        hook = FeastHook(contained(self.project_path, spec.features.repo), fs_yaml_file=self.fs_yaml_file)
        hook.apply()
        start, end, full = run_interval(context)
        views = sorted({ref.split(":", 1)[0] for ref in spec.features.refs})
        t0 = time.monotonic()
        with data_errors_fail():
            hook.check_source_columns(views)
        counts = hook.materialize(start, end, views)
        self.log.info(
            "materialized %s (%s) %s..%s: %d source rows in %.1fs",
            ", ".join(views),
            "no data interval: all data up to the run" if full else "data interval",
            start.isoformat(),
            end.isoformat(),
            sum(counts.values()),
            time.monotonic() - t0,
        )
        skew = timedelta(seconds=duration_seconds(spec.validation.max_clock_skew))
        not_after = max(end, datetime.now(UTC)) + skew  # later rows are future rows: never the "newest day"
        with data_errors_fail():
            entities = entity_frame(spec, self.purpose, None if full else (start, end), not_after=not_after)
        self.log.info("%s entity rows for %s (%s)", len(entities), spec.model.name, self.purpose)
        # No entity rows: an empty dataset, for the validate task to reject by name ("0 rows, at least N expected").
        frame = hook.training_set(entities, spec) if len(entities) else empty_features(entities, spec)
        frame = dataset_columns(frame, spec, self.purpose)
        if len(frame) != len(entities):
            raise RuntimeError(f"{len(entities)} entity rows in but {len(frame)} dataset rows out")
        path, digest = save_parquet(frame, settings.model_datasets_dir(spec.model.name, self.purpose))
        seconds = round(time.monotonic() - started, 3)
        self.log.info("dataset %s: %d rows, sha256 %s, %.1fs in all", path, len(frame), digest, seconds)
        return {
            "dataset": str(path),
            "digest": digest,
            "rows": len(frame),
            "purpose": self.purpose,
            "materialized": counts,
            "interval": [start.isoformat(), end.isoformat()],
            "started": started_at.isoformat(),
            "seconds": seconds,
        }


def run_interval(context: Any) -> tuple[datetime, datetime, bool]:
    """``(start, end, full)``: the run's data interval, or all data up to the run time when it is empty."""
    start, end = context.get("data_interval_start"), context.get("data_interval_end")
    if start is not None and end is not None and start < end:
        return _utc(start), _utc(end), False
    dag_run = context.get("dag_run")
    run_time = end or getattr(dag_run, "run_after", None) or datetime.now(UTC)
    return EPOCH, _utc(run_time), True


@contextmanager
def data_errors_fail() -> Iterator[None]:
    """Turn a :class:`~airflow_mlops.validation.errors.DataError` into a failure without retry."""
    from airflow.sdk.exceptions import AirflowFailException

    from airflow_mlops.validation.errors import DataError

    try:
        yield
    except DataError as exc:
        raise AirflowFailException(f"data error: {exc}") from exc


def empty_features(entities: pd.DataFrame, spec: ModelSpec) -> pd.DataFrame:
    """``entities`` (no rows) with an empty column per feature."""
    return entities.assign(**{name: float("nan") for name in spec.features.feature_names})


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def entity_frame(
    spec: ModelSpec,
    purpose: str,
    interval: tuple[datetime, datetime] | None,
    not_after: datetime | None = None,
) -> pd.DataFrame:
    """The entity rows to build a dataset for (see :class:`FeastMaterializeOperator`).

    Rows stamped after ``not_after`` (run time + clock skew) never make the "newest day" of scoring.
    """
    import pandas as pd

    f = spec.features
    if purpose == "train":
        path = inside(settings.data_dir(), f.label_source)
        frame = pd.read_parquet(path, columns=source_columns(path, [f.entity, f.timestamp, f.label]))
        return frame.reset_index(drop=True)
    path = inside(settings.data_dir(), f.scoring_source or f.label_source)
    frame = pd.read_parquet(path, columns=source_columns(path, [f.entity, f.timestamp]))
    stamps = pd.to_datetime(frame[f.timestamp], utc=True)
    chosen = pd.Series(False, index=frame.index)
    if interval is not None:
        chosen = (stamps >= interval[0]) & (stamps < interval[1])
    if not chosen.any() and len(frame):
        past = stamps <= not_after if not_after is not None else pd.Series(True, index=frame.index)
        newest = stamps[past].max()
        chosen = past & (stamps > newest - LATEST_WINDOW) if past.any() else past
    return frame[chosen].reset_index(drop=True)


def source_columns(path: Any, columns: list[str]) -> list[str]:
    """``columns``, after checking the parquet file at ``path`` has them (a DataError names what arrived)."""
    import pyarrow.parquet as pq

    from airflow_mlops.validation.errors import DataError, missing_columns_message

    arrived = list(pq.read_schema(path).names)
    missing = [c for c in columns if c not in arrived]
    if missing:
        raise DataError(missing_columns_message(str(path), missing, arrived, columns))
    return columns


def dataset_columns(frame: pd.DataFrame, spec: ModelSpec, purpose: str) -> pd.DataFrame:
    """Entity, timestamp, the spec's features in spec order, and the label for training."""
    f = spec.features
    columns = [f.entity, f.timestamp, *f.feature_names] + ([f.label] if purpose == "train" else [])
    return frame[columns]
