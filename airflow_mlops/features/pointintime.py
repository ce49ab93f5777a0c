"""Point-in-time features for a batch with one DuckDB ``ASOF LEFT JOIN`` per feature view, Feast's semantics.

The feature views come from the Feast registry (batch source path, ``timestamp_field``,
``created_timestamp_column``, ``ttl``, entity join keys, feature names), so the definitions are Feast's;
only the reading is done here. For each entity row and view this serves what Feast's
``get_historical_features`` serves: the source row of the same entity with the newest event time at or
before the row's time, the one created last among rows with that event time, and nothing when that row is
older than the view's ``ttl``. Feast (0.67, DuckDB offline store) reads every source row into a window
query; here the source is read once with projections, the batch's entities and the time range
``[min batch time - ttl, max batch time]`` pushed into the parquet scan, so time and memory follow the
batch, not the history.

Only what is checked to give Feast's answer is served here: plain feature views over local parquet files,
without field mappings, aliases or join-key maps. Anything else raises :class:`Unsupported`, and the
caller (``FeastHook.training_set``) asks Feast instead.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from feast import FeatureStore

TIMESTAMP = "event_timestamp"  # the entity frame's event-time column (Feast's name)
_ROW = "__pit_row"
_MICROS_COL = "__pit_us"  # the batch row's time, microseconds since the epoch
_LOW = 2**64  # the composite ASOF key: event microseconds * 2**64 + a created rank below 2**64
_MICROS = "datetime64[us, UTC]"


class Unsupported(Exception):
    """The retrieval needs something only Feast does (the message says what)."""


@dataclass(frozen=True)
class ViewPlan:
    """What to read for one feature view."""

    name: str
    path: str
    timestamp: str
    created: str | None
    ttl: timedelta | None
    join_keys: tuple[str, ...]
    features: tuple[str, ...]


def plan(store: FeatureStore, refs: Any) -> list[ViewPlan]:
    """One :class:`ViewPlan` per view of ``refs`` (a FeatureService or ``view:feature`` strings).

    Raises :class:`Unsupported` for what this module does not serve the way Feast does.
    """
    plans: list[ViewPlan] = []
    seen: set[str] = set()
    for name, features in _wanted(refs).items():
        view = _view_plan(store, name, list(dict.fromkeys(features)))
        if seen & set(view.features):
            raise Unsupported(f"feature names {sorted(seen & set(view.features))} served by more than one view")
        seen |= set(view.features)
        plans.append(view)
    return plans


def _wanted(refs: Any) -> dict[str, list[str]]:
    """Feature names per view name."""
    from feast import FeatureService

    wanted: dict[str, list[str]] = {}
    if isinstance(refs, FeatureService):
        for projection in refs.feature_view_projections:
            if projection.name_alias or projection.join_key_map:
                raise Unsupported(f"feature service {refs.name!r}: view {projection.name!r} is aliased or re-keyed")
            wanted.setdefault(projection.name, []).extend(f.name for f in projection.features)
    else:
        for ref in refs:
            view_name, _, feature = str(ref).partition(":")
            wanted.setdefault(view_name, []).append(feature)
    return wanted


def _view_plan(store: FeatureStore, name: str, features: list[str]) -> ViewPlan:
    from feast import FeatureView, FileSource
    from feast.data_format import ParquetFormat

    try:
        view = store.get_feature_view(name)
    except Exception as exc:  # on-demand views, unknown names: Feast reports them its own way
        raise Unsupported(f"feature view {name!r}: {type(exc).__name__}") from exc
    if type(view) is not FeatureView:
        raise Unsupported(f"feature view {name!r} is a {type(view).__name__}")
    source = view.batch_source
    if not isinstance(source, FileSource):
        raise Unsupported(f"feature view {name!r}: source {type(source).__name__} is not a file")
    if source.field_mapping:
        raise Unsupported(f"feature view {name!r}: source has a field mapping")
    if source.file_format is not None and not isinstance(source.file_format, ParquetFormat):
        raise Unsupported(f"feature view {name!r}: source format is not parquet")
    path = _local_path(source.path, store.config.repo_path)
    if path is None:
        raise Unsupported(f"feature view {name!r}: source {source.path!r} is not a local parquet file")
    return ViewPlan(
        name=name,
        path=str(path),
        timestamp=source.timestamp_field,
        created=source.created_timestamp_column or None,
        ttl=view.ttl or None,
        join_keys=tuple(e.name for e in view.entity_columns),
        features=tuple(features),
    )


def _local_path(path: str, repo_path: Any) -> Path | None:
    """The file a source path names when it is a local parquet file, else None."""
    path = path.removeprefix("file://")
    if "://" in path:
        return None
    resolved = Path(path) if Path(path).is_absolute() else Path(repo_path or ".") / path
    return resolved if resolved.is_file() else None


def retrieve(entity_df: pd.DataFrame, plans: list[ViewPlan]) -> pd.DataFrame:
    """``entity_df`` (its ``event_timestamp`` in UTC, every column kept, row order kept) with each plan's features.

    ``entity_df`` is left as it was; the result shares its other columns' memory (copy it before writing into it).
    """
    import duckdb
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    keys = list(dict.fromkeys(k for view in plans for k in view.join_keys))
    stamps = pd.to_datetime(entity_df[TIMESTAMP], utc=True, cache=False)  # no cache probe: it boxes every row
    # Each row's time in whole microseconds, rounded down (sources are read at microseconds; Feast refuses finer
    # entity times): the ASOF probe and the ttl check use only this.
    nanos = stamps.to_numpy(dtype="datetime64[ns]").view("int64")
    batch = pa.Table.from_pandas(entity_df[keys], preserve_index=False)
    batch = batch.append_column(_ROW, pa.array(np.arange(len(entity_df), dtype=np.int64)))
    batch = batch.append_column(_MICROS_COL, pa.array(nanos // 1000, pa.int64(), mask=stamps.isna().to_numpy()))
    con = duckdb.connect(config={"temp_directory": _spill_dir()})
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.register("__pit_batch", batch)
        first, last = stamps.min().floor("us"), stamps.max().ceil("us")  # DuckDB's precision, bounds kept
        features = con.sql(_query(plans, first, last)).to_arrow_table()
    finally:
        con.close()
    # As Feast returns them: features through arrow (an int column with nulls becomes float64), the entity
    # columns as given but the event time in microseconds; rows in the frame's order.
    # ASOF output comes in no particular order: row ids are a permutation of 0..n-1, put each row at its own place
    order = np.empty(len(entity_df), dtype=np.int64)
    order[features.column(_ROW).to_numpy()] = np.arange(len(entity_df))
    features = features.drop_columns([_ROW]).take(order).to_pandas(split_blocks=True)
    # The entity columns are not copied (the frame shares them with ``entity_df``; only the time is new): in a fresh
    # process every copy of a million rows is page faults, ~0.1-0.2 s of CPU per copy measured.
    entities = entity_df.copy(deep=False)
    if not isinstance(entities.index, pd.RangeIndex) or (entities.index.start, entities.index.step) != (0, 1):
        entities = entities.reset_index(drop=True)
    entities[TIMESTAMP] = stamps.astype(_MICROS).array
    return pd.concat([entities, features], axis=1, copy=False)


def _spill_dir() -> str:
    return os.path.join(tempfile.gettempdir(), f"airflow-mlops-pit-{os.getuid()}")


def _query(plans: list[ViewPlan], first: Any, last: Any) -> str:
    """The SQL: per view a projected, filtered CTE, then one ASOF LEFT JOIN each (rows in no particular order).

    The ASOF order is one integer per source row: its event time in microseconds, or, with a created column,
    the HUGEINT ``event_us * 2**64 + created rank`` (created microseconds shifted into ``[1, 2**64)``, a null
    created time 0): the match is the newest event time at or before the row's, and among rows with that event
    time the one created last (a null created time loses, as in Feast's ``ORDER BY ... DESC``), without a
    window or a second sort key over the source rows. The ttl check reads the same key.
    """
    ctes, joins, selected = [], [], []
    us = f"b.{_MICROS_COL}"
    for i, view in enumerate(plans):
        alias = f"v{i}"
        keys = ", ".join(_q(k) for k in view.join_keys)
        event = f"epoch_us({_q(view.timestamp)}::TIMESTAMPTZ)"
        order, probe, scale = event, us, ""
        if view.created:
            created = f"coalesce(epoch_us({_q(view.created)}::TIMESTAMPTZ)::HUGEINT + {2**63}, 0)"
            order, scale = f"{event}::HUGEINT * {_LOW} + {created}", f"::HUGEINT * {_LOW}"
            probe = f"{us}{scale} + {_LOW - 1}"
        where = [f"{_q(view.timestamp)} <= {_stamp(last)}"]
        if view.ttl:
            where.append(f"{_q(view.timestamp)} >= {_stamp(first)} - {_interval(view.ttl)}")
        on_keys = " AND ".join(f"f.{_q(k)} = k.{_q(k)}" for k in view.join_keys)
        ctes.append(
            f"{alias} AS (SELECT * FROM (SELECT {keys}, {order} AS __pit_order, "
            f"{', '.join(_q(f) for f in view.features)} FROM read_parquet({_lit(view.path)}) "
            f"WHERE {' AND '.join(where)}) f SEMI JOIN (SELECT DISTINCT {keys} FROM __pit_batch) k ON {on_keys})"
        )
        on = " AND ".join(f"b.{_q(k)} = {alias}.{_q(k)}" for k in view.join_keys)
        joins.append(f"ASOF LEFT JOIN {alias} ON {on} AND {probe} >= {alias}.__pit_order")
        ttl_us = int(view.ttl / timedelta(microseconds=1)) if view.ttl else 0
        live = f"{alias}.__pit_order >= ({us} - {ttl_us}){scale}" if view.ttl else None
        for feature in view.features:
            column = f"{alias}.{_q(feature)}"
            selected.append(f"CASE WHEN {live} THEN {column} END AS {_q(feature)}" if live else f"{column}")
    columns = ", ".join([f"b.{_ROW}", *selected])
    return f"WITH {', '.join(ctes)} SELECT {columns} FROM __pit_batch b {' '.join(joins)}"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _stamp(value: Any) -> str:
    return f"{_lit(value.isoformat())}::TIMESTAMPTZ"


def _interval(ttl: timedelta) -> str:
    return f"to_microseconds({int(ttl / timedelta(microseconds=1))})"
