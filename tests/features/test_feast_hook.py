"""FeastHook against real Feast (DuckDB offline store, SQLite online store) on small generated data."""

from __future__ import annotations

import shutil
from datetime import timedelta

import pandas as pd
import pytest

from .conftest import END, REPO


def test_apply_registers_the_repo_once(hook, feast_home):
    store = hook.store
    assert {s.name for s in store.list_feature_services()} == {"ride_demand", "rider_churn"}
    assert {v.name for v in store.list_feature_views()} == {"zone_hourly", "rider_activity"}
    assert {e.join_key for e in store.list_entities()} >= {"zone_id", "rider_id"}
    source = store.get_feature_view("zone_hourly").batch_source
    assert source.path == str(feast_home / "data" / "zone_hourly.parquet")
    assert (feast_home / "feast" / "registry.db").exists()
    assert hook.digest_file() == feast_home / "feast" / "registry.db.sha256"
    assert hook.apply() is False  # unchanged: skipped


def test_apply_again_when_the_repo_changes(tmp_path, monkeypatch):
    from airflow_mlops.hooks.feast import FeastHook

    monkeypatch.setenv("AIRFLOW_MLOPS_HOME", str(tmp_path / "home"))
    repo = tmp_path / "repo"
    shutil.copytree(REPO, repo, ignore=shutil.ignore_patterns("__pycache__"))
    assert FeastHook(repo).apply() is True
    assert FeastHook(repo).apply() is False
    text = (repo / "features.py").read_text()
    (repo / "features.py").write_text(text.replace("ttl=timedelta(days=1)", "ttl=timedelta(days=2)"))
    changed = FeastHook(repo)
    assert changed.apply() is True
    assert changed.store.get_feature_view("zone_hourly").ttl == timedelta(days=2)
    # a feature view removed from the repo is removed from the registry
    (repo / "features.py").write_text(
        text.split("ride_demand = FeatureService")[0].replace("rider_activity = FeatureView(", "_unused = dict(")
    )
    trimmed = FeastHook(repo)
    assert trimmed.apply() is True
    assert [v.name for v in trimmed.store.list_feature_views()] == ["zone_hourly"]
    assert trimmed.store.list_feature_services() == []


def test_materialize_is_incremental_and_never_rolls_back(hook, feast_home):
    ttl = hook.store.get_feature_view("zone_hourly").ttl
    first = hook.materialize(END - timedelta(hours=5), ["zone_hourly"])  # never materialized: from end - ttl
    assert first == {
        "zone_hourly": [(END - timedelta(hours=5) - ttl).isoformat(), (END - timedelta(hours=5)).isoformat()]
    }
    assert hook.materialize(END, ["zone_hourly"]) == {
        "zone_hourly": [(END - timedelta(hours=5)).isoformat(), END.isoformat()]
    }
    assert hook.materialize(END - timedelta(hours=1), ["zone_hourly"]) == {"zone_hourly": None}  # a backfill
    source = pd.read_parquet(feast_home / "data" / "zone_hourly.parquet")
    online = hook.store.get_online_features(
        features=["zone_hourly:temperature", "zone_hourly:zone_type"], entity_rows=[{"zone_id": 2}]
    ).to_dict()
    newest = source[(source.zone_id == 2) & (source.event_timestamp == END)].iloc[0]
    assert online["temperature"] == [newest.temperature] and online["zone_type"] == [newest.zone_type]


@pytest.mark.parametrize("model", ["ride_demand", "rider_churn"])
def test_training_set_has_every_label_row_and_the_spec_features(hook, specs, feast_home, model):
    spec = specs[model]
    labels = pd.read_parquet(feast_home / "data" / spec.features.label_source)
    result = hook.training_set(labels, spec)
    assert len(result) == len(labels)
    assert set(result.columns) == {
        spec.features.entity,
        "event_timestamp",
        spec.features.label,
        *spec.features.feature_names,
    }
    assert list(result[spec.features.entity]) == list(labels[spec.features.entity])  # input order kept
    view = "zone_hourly" if model == "ride_demand" else "rider_activity"
    features = pd.read_parquet(feast_home / "data" / f"{view}.parquet")
    # labels and features share timestamps: every row gets exactly its own feature row
    expected = labels.merge(features, on=[spec.features.entity, "event_timestamp"], how="left")
    for name in spec.features.feature_names:
        assert list(result[name]) == list(expected[name]), name


def test_point_in_time_join_never_uses_a_newer_feature_row(hook, specs, feast_home):
    features = pd.read_parquet(feast_home / "data" / "zone_hourly.parquet").set_index(["zone_id", "event_timestamp"])
    stamps = [pd.Timestamp(END - timedelta(hours=10, minutes=30)), pd.Timestamp(END - timedelta(minutes=1))]
    entity_df = pd.DataFrame({"zone_id": [1, 3], "event_timestamp": stamps, "trips": [0.0, 0.0]})
    result = hook.training_set(entity_df, specs["ride_demand"])
    for zone, stamp, (_, row) in zip([1, 3], stamps, result.iterrows(), strict=True):
        before = features.loc[(zone, stamp.floor("h"))]  # the newest row at or before the entity time
        after = features.loc[(zone, stamp.ceil("h"))]  # an hour later: newer than the entity time
        assert row.temperature == before.temperature != after.temperature
        assert row.hour == stamp.floor("h").hour
    # older than every feature row (and beyond the ttl): no features rather than future ones
    first = features.index.get_level_values("event_timestamp").min()
    early = pd.DataFrame({"zone_id": [1], "event_timestamp": [first - timedelta(hours=1)], "trips": [0.0]})
    assert hook.training_set(early, specs["ride_demand"])["temperature"].isna().all()


def test_repeated_entity_timestamp_rows_are_all_kept(hook, specs, feast_home):
    labels = pd.read_parquet(feast_home / "data" / "rider_churn_labels.parquet").head(50)
    doubled = pd.concat([labels, labels.assign(churned=1 - labels.churned)], ignore_index=True)
    result = hook.training_set(doubled, specs["rider_churn"])
    assert len(result) == 100
    assert list(result.churned) == list(doubled.churned)
    assert result.iloc[:50].tenure_days.tolist() == result.iloc[50:].tenure_days.tolist()


def test_feature_refs_without_a_service(hook, specs):
    spec = specs["rider_churn"].model_copy(deep=True)
    spec.features.feature_service = None
    spec.features.refs = ["rider_activity:tenure_days", "rider_activity:payment_type"]
    assert hook.feature_refs(spec) == spec.features.refs
    entity_df = pd.DataFrame({"rider_id": [1, 2], "event_timestamp": [END, END], "churned": [0, 1]})
    result = hook.training_set(entity_df, spec)
    assert list(result.columns) == ["rider_id", "event_timestamp", "churned", "tenure_days", "payment_type"]
