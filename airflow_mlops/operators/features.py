"""Build a model's training set or scoring input for the run's window, and keep Feast's online store current."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from airflow_mlops import settings
from airflow_mlops.datasets import parquet_file, read_parquet, save_parquet
from airflow_mlops.features.window import Window, run_window, training_end
from airflow_mlops.operators.base import SpecOperator
from airflow_mlops.spec.paths import contained
from airflow_mlops.spec.schema import duration_seconds

if TYPE_CHECKING:
    import pandas as pd

    from airflow_mlops.spec import ModelSpec


class FeastMaterializeOperator(SpecOperator):
    """Apply the Feast repo when it changed and build the run's dataset (see docs/intervals.md).

    ``purpose="score"``: the scoring source's (else the label source's) entity rows stamped in the run's
    window, ``[data_interval_start, data_interval_end)`` (:func:`~airflow_mlops.features.window.run_window`),
    without the label. A window without rows skips the run (``AirflowSkipException``: validate and score skip,
    the scores table is untouched). With ``scoring.online_store`` the online store is materialized up to the
    window's end, incrementally; otherwise it is never touched (batch scoring reads features offline).
    ``purpose="train"``: the label rows stamped before the run's data interval end (else its logical date).
    Either way rows stamped after the run time plus ``validation.max_clock_skew`` (future rows) are left out.
    Features are joined point in time. The dataset is saved as
    ``datasets/<model>/<purpose>/<sha256>.parquet``; re-running a window gives the same file.

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
        if self.purpose == "score":
            window = run_window(context)
        else:
            window = Window(None, training_end(context), None, "label rows before the run's interval end")
        skew = timedelta(seconds=duration_seconds(spec.validation.max_clock_skew))
        not_after = started_at + skew  # later rows are future rows
        self.log.info("%s window of %s: %s", self.purpose, spec.model.name, window.describe())
        with data_errors_fail():
            entities = entity_frame(spec, self.purpose, (window.start, window.end), not_after=not_after)
        self.log.info("%s entity rows for %s (%s)", len(entities), spec.model.name, self.purpose)
        if self.purpose == "score" and not len(entities):
            from airflow.sdk.exceptions import AirflowSkipException

            raise AirflowSkipException(
                f"no rows of {source_name(spec, self.purpose)} stamped in {window.describe()} (up to "
                f"{not_after.isoformat()}): nothing to score; validate and score skip, the scores table is unchanged"
            )
        hook = FeastHook(contained(self.project_path, spec.features.repo), fs_yaml_file=self.fs_yaml_file)
        hook.apply()
        views = sorted({ref.split(":", 1)[0] for ref in spec.features.refs})
        with data_errors_fail():
            hook.check_source_columns(views)
        materialized = {}
        if self.purpose == "score" and spec.scoring.online_store:
            materialized = hook.materialize(min(window.end, not_after), views)
        # No entity rows (training only): an empty dataset, for the validate task to reject by name.
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
            "materialized": materialized,
            "interval": [window.start.isoformat() if window.start else None, window.end.isoformat()],
            "logical_date": window.logical_date.isoformat() if window.logical_date else None,
            "started": started_at.isoformat(),
            "seconds": seconds,
        }


def source_name(spec: ModelSpec, purpose: str) -> str:
    """The file the entity rows of ``purpose`` come from (relative to the data folder)."""
    f = spec.features
    return f.label_source if purpose == "train" else (f.scoring_source or f.label_source)


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


def entity_frame(
    spec: ModelSpec,
    purpose: str,
    interval: tuple[datetime | None, datetime] | None,
    not_after: datetime | None = None,
) -> pd.DataFrame:
    """The entity rows to build a dataset for (see :class:`FeastMaterializeOperator`), in source order.

    ``interval``: rows stamped in ``[start, end)`` (``start`` None: no lower bound; None: every row). Rows stamped
    after ``not_after`` (run time + clock skew) are future rows and left out. Training rows keep their label.
    """
    import pandas as pd

    f = spec.features
    path = settings.input_path(source_name(spec, purpose))
    wanted = [f.entity, f.timestamp] + ([f.label] if purpose == "train" else [])
    frame = read_parquet(path, columns=source_columns(path, wanted))
    stamps = pd.to_datetime(frame[f.timestamp], utc=True)
    chosen = pd.Series(True, index=frame.index)
    if interval is not None:
        start, end = interval
        chosen &= stamps < end
        if start is not None:
            chosen &= stamps >= start
    if not_after is not None:
        chosen &= stamps <= not_after
    return frame[chosen].reset_index(drop=True)


def source_columns(path: Any, columns: list[str]) -> list[str]:
    """``columns``, after checking the parquet file at ``path`` has them (a DataError names what arrived)."""
    from airflow_mlops.validation.errors import DataError, missing_columns_message

    with parquet_file(path) as parquet:
        arrived = list(parquet.schema_arrow.names)
    missing = [c for c in columns if c not in arrived]
    if missing:
        raise DataError(missing_columns_message(str(path), missing, arrived, columns))
    return columns


def dataset_columns(frame: pd.DataFrame, spec: ModelSpec, purpose: str) -> pd.DataFrame:
    """Entity, timestamp, the spec's features in spec order, and the label for training."""
    f = spec.features
    columns = [f.entity, f.timestamp, *f.feature_names] + ([f.label] if purpose == "train" else [])
    return frame[columns]
