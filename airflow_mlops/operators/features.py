"""Materialize a model's features with Feast and build its training set or scoring input."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from airflow_mlops import settings
from airflow_mlops.datasets import save_parquet
from airflow_mlops.operators.base import SpecOperator
from airflow_mlops.spec.paths import contained

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
        entities = entity_frame(spec, self.purpose, None if full else (start, end))
        self.log.info("%s entity rows for %s (%s)", len(entities), spec.model.name, self.purpose)
        frame = hook.training_set(entities, spec)
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


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def entity_frame(spec: ModelSpec, purpose: str, interval: tuple[datetime, datetime] | None) -> pd.DataFrame:
    """The entity rows to build a dataset for (see :class:`FeastMaterializeOperator`)."""
    import pandas as pd

    f = spec.features
    if purpose == "train":
        frame = pd.read_parquet(settings.data_dir() / f.label_source, columns=[f.entity, f.timestamp, f.label])
        return frame.reset_index(drop=True)
    source = f.scoring_source or f.label_source
    frame = pd.read_parquet(settings.data_dir() / source, columns=[f.entity, f.timestamp])
    stamps = pd.to_datetime(frame[f.timestamp], utc=True)
    chosen = pd.Series(False, index=frame.index)
    if interval is not None:
        chosen = (stamps >= interval[0]) & (stamps < interval[1])
    if not chosen.any() and len(frame):
        chosen = stamps > stamps.max() - LATEST_WINDOW
    return frame[chosen].reset_index(drop=True)


def dataset_columns(frame: pd.DataFrame, spec: ModelSpec, purpose: str) -> pd.DataFrame:
    """Entity, timestamp, the spec's features in spec order, and the label for training."""
    f = spec.features
    columns = [f.entity, f.timestamp, *f.feature_names] + ([f.label] if purpose == "train" else [])
    return frame[columns]
