"""DuckDB point-in-time retrieval (airflow_mlops.features.pointintime) against Feast's own on generated data.

Real Feast 0.67 (DuckDB offline store) and real DuckDB read the same parquet files with the same feature
views; every case where a point-in-time join can go wrong is in the data: ttl expiry (and its exact
boundary), entities without feature rows, rows at the same event time told apart by their created time,
repeated entity rows, feature rows newer than the batch, int and float features (with nulls).
"""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from airflow_mlops.hooks.feast import ROW_COLUMN

T0 = datetime(2026, 3, 1, tzinfo=UTC)
TTL = timedelta(hours=6)

FEATURES_PY = """
from datetime import timedelta
from feast import Entity, FeatureService, FeatureView, Field, FileSource, ValueType
from feast.types import Float64, Int64

driver = Entity(name="driver", join_keys=["driver_id"], value_type=ValueType.INT64)
trips = FeatureView(
    name="trips",
    entities=[driver],
    ttl=timedelta(hours=6),
    schema=[Field(name="trips_today", dtype=Int64), Field(name="rating", dtype=Float64)],
    source=FileSource(name="trips_src", path="{data}/trips.parquet", timestamp_field="event_timestamp",
                      created_timestamp_column="created"),
)
profile = FeatureView(
    name="profile",
    entities=[driver],
    ttl=timedelta(0),
    schema=[Field(name="age_days", dtype=Int64), Field(name="fare", dtype=Float64)],
    source=FileSource(name="profile_src", path="{data}/profile.parquet", timestamp_field="ts"),
)
mapped = FeatureView(
    name="mapped",
    entities=[driver],
    ttl=timedelta(hours=6),
    schema=[Field(name="rating_m", dtype=Float64)],
    source=FileSource(name="mapped_src", path="{data}/trips.parquet", timestamp_field="event_timestamp",
                      created_timestamp_column="created", field_mapping={{"rating": "rating_m"}}),
)
both = FeatureService(name="both", features=[trips, profile])
"""

STORE_YAML = """
project: pit_test
provider: local
registry: {registry}
online_store: {{type: sqlite, path: {online}}}
offline_store: {{type: duckdb}}
entity_key_serialization_version: 3
"""


def _sources(rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``trips`` (ttl 6h, created column, ties on event time) and ``profile`` (no ttl, no created column)."""
    n = 3000
    ids = rng.integers(1, 26, n)  # drivers 26..30 never have feature rows
    stamps = pd.Timestamp(T0) + pd.to_timedelta(rng.integers(0, 5 * 24 * 60, n) * 60, unit="s")
    trips = pd.DataFrame(
        {
            "driver_id": ids.astype("int64"),
            "event_timestamp": stamps,
            "created": stamps + pd.to_timedelta(rng.integers(0, 3600, n), unit="s"),
            "trips_today": rng.integers(0, 50, n).astype("int64"),
            "rating": rng.normal(4.5, 0.3, n).round(3),
        }
    )
    trips.loc[rng.choice(n, 100, replace=False), "rating"] = np.nan
    # 200 rows share (driver, event time) with another row, created later or earlier, other values
    twins = trips.sample(200, random_state=1).copy()
    twins["created"] = twins["created"] + pd.to_timedelta(rng.choice([-1, 1], 200) * rng.integers(1, 600, 200), "s")
    twins["trips_today"] = twins["trips_today"] + 1000
    # 40 more twins without a created time: a null created time loses the tie (Feast's ORDER BY ... DESC)
    unstamped = trips.sample(40, random_state=4).assign(created=pd.NaT, trips_today=lambda f: f.trips_today + 2000)
    trips = pd.concat([trips, twins, unstamped], ignore_index=True)
    trips = trips.drop_duplicates(["driver_id", "event_timestamp", "created"])
    days = pd.date_range(T0, periods=5, freq="D", tz="UTC")
    profile = pd.DataFrame(
        {
            "driver_id": np.repeat(np.arange(1, 26), len(days)).astype("int64"),
            "ts": np.tile(days, 25),
            "age_days": rng.integers(1, 900, 25 * len(days)).astype("int64"),
            "fare": rng.normal(20, 5, 25 * len(days)),
        }
    )
    # rows before 1970 (negative epoch times) for five drivers: served to batch rows before the first day
    early = profile.iloc[:: len(days)].head(5).assign(ts=pd.Timestamp("1969-12-31 23:00", tz="UTC"), age_days=7777)
    profile = pd.concat([early, profile], ignore_index=True)
    return trips.sample(frac=1, random_state=2).reset_index(drop=True), profile


def _batch(rng: np.random.Generator, trips: pd.DataFrame) -> pd.DataFrame:
    n = 600
    rows = pd.DataFrame(
        {
            "driver_id": rng.integers(1, 32, n).astype("int64"),  # 31: unknown to every view
            "event_timestamp": pd.Timestamp(T0 - timedelta(hours=12))
            + pd.to_timedelta(rng.integers(0, 6 * 24 * 60, n) * 60, unit="s"),
            "label": rng.normal(size=n),
        }
    )
    exact = trips.sample(60, random_state=3)  # at a feature row's event time, and exactly ttl after it
    edges = pd.concat(
        [
            exact[["driver_id", "event_timestamp"]],
            exact[["driver_id", "event_timestamp"]].assign(event_timestamp=exact.event_timestamp + TTL),
            exact[["driver_id", "event_timestamp"]].assign(
                event_timestamp=exact.event_timestamp + TTL + timedelta(1e-3)
            ),
        ]
    ).assign(label=0.5)
    batch = pd.concat([rows, edges, rows.head(40), edges.tail(20)], ignore_index=True)  # repeated entity rows
    return batch.assign(**{ROW_COLUMN: range(len(batch))})


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from airflow_mlops.hooks.feast import FeastHook

    root = tmp_path_factory.mktemp("pit")
    data, repo = root / "data", root / "repo"
    data.mkdir()
    repo.mkdir()
    rng = np.random.default_rng(17)
    trips, profile = _sources(rng)
    trips.to_parquet(data / "trips.parquet", index=False, row_group_size=500)
    profile.to_parquet(data / "profile.parquet", index=False)
    (repo / "features.py").write_text(textwrap.dedent(FEATURES_PY).format(data=data))
    (repo / "feature_store.yaml").write_text(STORE_YAML.format(registry=root / "registry.db", online=root / "o.db"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIRFLOW_MLOPS_HOME", str(root / "home"))
        hook = FeastHook(repo)
        hook.apply()
        yield hook, _batch(rng, trips), trips


def _both(hook, batch, refs):
    from airflow_mlops.features import pointintime

    ours = pointintime.retrieve(batch, pointintime.plan(hook.store, refs))
    feast = hook.historical_features(batch, refs)
    return ours, feast


def test_same_answer_as_feast_for_a_feature_service(world):
    hook, batch, _ = world
    before = batch.copy()
    ours, feast = _both(hook, batch, hook.store.get_feature_service("both"))
    pd.testing.assert_frame_equal(batch, before)  # the entity frame is left as it was
    pd.testing.assert_frame_equal(ours, feast[list(ours.columns)], check_dtype=True)
    assert list(ours.columns) == list(feast.columns)
    # the data exercises every case: expiry, missing entities, ties, nulls, served values
    assert ours.trips_today.isna().sum() > 50 and ours.trips_today.notna().sum() > 200
    assert (ours.trips_today >= 1000).any() and ((ours.trips_today < 1000) & ours.trips_today.notna()).any()
    assert ours.loc[ours.driver_id >= 26, ["trips_today", "age_days"]].isna().all().all()
    assert ours.age_days.notna().sum() > ours.trips_today.notna().sum()  # no ttl on profile
    assert ours.rating.isna().sum() > ours.trips_today.isna().sum()  # null ratings served as null
    assert not (ours.trips_today >= 2000).any()  # a twin without created time never wins
    assert (ours.age_days == 7777).any()  # a row from 1969 served


def test_same_answer_as_feast_for_refs_and_int_dtypes_without_gaps(world):
    hook, batch, _ = world
    late = batch[(batch.driver_id <= 25) & (batch.event_timestamp >= pd.Timestamp(T0 + timedelta(days=1)))]
    late = late.reset_index(drop=True).assign(**{ROW_COLUMN: lambda f: range(len(f))})
    ours, feast = _both(hook, late, ["profile:age_days", "profile:fare", "trips:rating"])
    pd.testing.assert_frame_equal(ours, feast[list(ours.columns)], check_dtype=True)
    assert ours.age_days.dtype == "int64" and ours.age_days.notna().all()


def test_ttl_boundary_and_ties(world):
    hook, batch, trips = world
    ours, _ = _both(hook, batch, ["trips:trips_today"])
    newest = (
        trips.sort_values(["event_timestamp", "created"], na_position="first")
        .groupby(["driver_id", "event_timestamp"])
        .tail(1)
    )
    served = newest.set_index(["driver_id", "event_timestamp"]).trips_today
    exact = ours.iloc[600:660]  # entity rows at a feature row's own event time: that row (the tie's newest)
    keys = zip(exact.driver_id, exact.event_timestamp, strict=True)
    assert list(exact.trips_today) == [served[key] for key in keys]
    assert ours.iloc[660:720].trips_today.notna().all()  # exactly ttl later: still served
    later = ours.iloc[720:780]  # a millisecond beyond ttl: served only when a newer row is in the window
    assert later.trips_today.isna().any()


def test_empty_batch_and_future_only(world):
    hook, batch, _ = world
    early = batch.head(5).assign(event_timestamp=pd.Timestamp(T0 - timedelta(days=3)))
    ours, feast = _both(hook, early, hook.store.get_feature_service("both"))
    assert ours.trips_today.isna().all() and ours.age_days.isna().all()  # only future rows exist
    pd.testing.assert_frame_equal(ours, feast[list(ours.columns)])


def test_unsupported_views_go_through_feast_with_a_log_line(world, capsys):
    from airflow_mlops.features import pointintime

    hook, batch, _ = world
    with pytest.raises(pointintime.Unsupported, match="field mapping"):
        pointintime.plan(hook.store, ["mapped:rating_m"])
    result, how = hook._point_in_time(batch.head(50), ["mapped:rating_m"])
    assert how.startswith("Feast") and "through Feast: feature view 'mapped'" in capsys.readouterr().out
    assert len(result) == 50 and result.rating_m.notna().any()


def test_nanosecond_batch_times(world):
    """Feast refuses entity times finer than microseconds (arrow cast); served here as at the microsecond."""
    hook, batch, _ = world
    rows = pd.concat([batch.head(30), batch.iloc[660:690]])  # random times, and exactly ttl after a feature row
    odd = rows.assign(event_timestamp=lambda f: f.event_timestamp + pd.Timedelta(nanoseconds=1))
    refs = ["trips:trips_today", "profile:fare"]
    ours, _ = _both(hook, rows, refs)
    assert ours.trips_today.iloc[30:].notna().all()  # at the ttl boundary, 1 ns later, still served
    from airflow_mlops.features import pointintime

    served = pointintime.retrieve(odd, pointintime.plan(hook.store, refs))
    pd.testing.assert_frame_equal(served, ours)
