"""The data gate on generated data with real Great Expectations: what is caught, how it is reported."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from airflow_mlops.spec.schema import Validation
from airflow_mlops.validation.gate import run_gate
from airflow_mlops.validation.report import write_reports

from .conftest import NOW, riders, rides


def test_clean_ride_demand_passes_every_check(ride_spec):
    outcome = run_gate(rides(), ride_spec.validation, now=NOW)
    assert outcome.status == "passed", outcome.summary()
    rules = {(r.check.column, r.check.rule) for r in outcome.result.checks}
    assert {("hour", "type"), ("hour", "range"), ("hour", "not_null"), ("zone_type", "allowed")} <= rules
    assert {(None, "row_count"), ("event_timestamp", "freshness")} <= rules
    assert all(r.success and r.error is None for r in outcome.result.checks)
    assert (outcome.rows_in, outcome.rows_good, outcome.rows_quarantined) == (360, 360, 0)


def test_clean_rider_churn_passes(churn_spec):
    outcome = run_gate(riders(), churn_spec.validation, now=NOW)
    assert outcome.status == "passed", outcome.summary()


def _with_zone(value: str) -> pd.DataFrame:
    df = rides()
    df.loc[[3, 50, 200], "zone_type"] = value
    return df


DEFECTS = {
    "hour 77": (
        lambda: rides(bad_hour_fraction=0.01),
        "hour: 3 rows outside [0, 23], e.g. 77",
        "expect_column_values_to_be_between",
    ),
    "int temperature": (
        lambda: rides(int_temperature=True),
        "temperature: expected float, got int64",
        "expect_column_values_to_be_in_type_list",
    ),
    "nulls": (lambda: rides(null_fraction=0.02), "trips_lag_1h: 7 nulls", "expect_column_values_to_not_be_null"),
    "not allowed": (
        lambda: _with_zone("moon"),
        "zone_type: 3 rows not in {airport, downtown, suburb}, e.g. 'moon'",
        "expect_column_values_to_be_in_set",
    ),
    "stale": (
        lambda: rides(stale_days=40),
        "event_timestamp: newest value 2026-01-21 12:00 is older than 30d",
        "expect_column_max_to_be_between",
    ),
}


@pytest.mark.parametrize("defect", DEFECTS)
def test_each_defect_is_caught_with_column_expectation_and_example(ride_spec, defect):
    make, expected, expectation = DEFECTS[defect]
    outcome = run_gate(make(), ride_spec.validation, now=NOW)
    assert not outcome.result.success
    [line] = outcome.result.lines()
    assert line.startswith(expected), line
    assert line.endswith(f"({expectation})"), line
    assert line in outcome.summary()


def test_gx_counts_match_the_data_and_the_quarantine_masks(ride_spec):
    df = rides(bad_hour_fraction=0.04, null_fraction=0.03)
    outcome = run_gate(df, ride_spec.validation, now=NOW)
    by_rule = {(r.check.column, r.check.rule): r for r in outcome.result.failures}
    assert by_rule["hour", "range"].failed_rows == int((df["hour"] == 77).sum()) == 14
    assert by_rule["hour", "range"].failed_percent == pytest.approx(100 * 14 / 360)  # GX reports a percentage
    assert by_rule["trips_lag_1h", "not_null"].failed_rows == int(df["trips_lag_1h"].isna().sum()) == 10
    bad = (df["hour"] == 77) | df["trips_lag_1h"].isna()
    assert outcome.split.counts == {
        "hour:range": 14,
        "day_of_week:range": 0,
        "temperature:range": 0,
        "trips_lag_1h:range": 0,
        "hour:not_null": 0,
        "day_of_week:not_null": 0,
        "trips_lag_1h:not_null": 10,
        "zone_type:not_null": 0,
        "zone_type:allowed": 0,
    }
    assert outcome.bad_rows == int(bad.sum())
    assert outcome.status == "quarantined"


def test_quarantine_moves_exactly_the_bad_rows_with_a_reason_each(ride_spec):
    df = rides(bad_hour_fraction=0.05, null_fraction=0.01)
    outcome = run_gate(df, ride_spec.validation, now=NOW)
    bad_mask = (df["hour"] == 77) | df["trips_lag_1h"].isna()
    assert outcome.status == "quarantined", outcome.summary()
    assert len(outcome.split.bad) == int(bad_mask.sum()) and outcome.rows_good == int((~bad_mask).sum())
    assert outcome.rows_good + outcome.rows_quarantined == len(df)
    key = ["zone_id", "event_timestamp"]
    assert set(map(tuple, outcome.split.bad[key].to_numpy())) == set(map(tuple, df.loc[bad_mask, key].to_numpy()))
    reasons = outcome.split.bad.set_index(key)["quarantine_reason"]
    for _, row in df[bad_mask].iterrows():
        reason = reasons.loc[(row["zone_id"], row["event_timestamp"])]
        assert ("hour=77 outside [0, 23]" in reason) == (row["hour"] == 77)
        assert ("trips_lag_1h is null" in reason) == pd.isna(row["trips_lag_1h"])
    assert not (outcome.split.good["hour"] == 77).any() and outcome.split.good["trips_lag_1h"].notna().all()


def test_too_many_bad_rows_fail_even_under_quarantine(ride_spec):
    outcome = run_gate(rides(bad_hour_fraction=0.3), ride_spec.validation, now=NOW)
    assert outcome.status == "failed" and outcome.rows_quarantined == 0
    assert "108 of 360 rows (30.0%) are bad, more than max_bad_fraction 10.0%" in outcome.summary()


def test_fail_policy_fails_on_a_single_bad_row(churn_spec):
    df = riders()
    df.loc[7, "payment_type"] = "crypto"
    outcome = run_gate(df, churn_spec.validation, now=NOW)
    assert outcome.status == "failed"
    assert "payment_type: 1 row not in {card, cash, wallet}, e.g. 'crypto'" in outcome.summary()
    assert "on_failure is fail" in outcome.reason


def test_table_level_failure_rejects_the_whole_batch_under_quarantine(ride_spec):
    outcome = run_gate(rides(int_temperature=True, bad_hour_fraction=0.01), ride_spec.validation, now=NOW)
    assert outcome.status == "failed" and outcome.rows_good == 0
    assert "Table-level check failed (temperature type)" in outcome.reason


def test_missing_column_and_row_count_are_table_failures(ride_spec):
    outcome = run_gate(rides().drop(columns=["temperature"]).head(50), ride_spec.validation, now=NOW)
    lines = outcome.result.lines()
    assert any(
        line.startswith("temperature: column 'temperature' missing; arrived: zone_id, event_timestamp, hour,")
        and line.endswith("; new: 'zone_id', 'created', 'trips' (expect_column_to_exist)")
        for line in lines
    ), lines
    assert "table: 50 rows, at least 100 expected (expect_table_row_count_to_be_between)" in lines
    assert outcome.status == "failed"


def test_unique_marks_every_copy_like_gx_and_ignores_nulls():
    validation = Validation.model_validate(
        {"columns": {"key": {"unique": True}}, "on_failure": "quarantine", "max_bad_fraction": 0.5}
    )
    df = pd.DataFrame({"key": [1.0, 2.0, 2.0, 3.0, None, None, 4.0, 4.0, 4.0, 5.0]})
    outcome = run_gate(df, validation, now=NOW)
    [failure] = outcome.result.failures
    assert failure.failed_rows == 5
    assert failure.message.startswith("key: 5 rows with duplicated values, e.g. 2, 4")
    assert outcome.split.bad.index.tolist() == [1, 2, 6, 7, 8]
    assert outcome.split.bad["quarantine_reason"].tolist()[0] == "key=2.0 duplicated"


@pytest.mark.parametrize("tz", ["UTC", None])
def test_datetime_type_accepts_naive_and_aware_timestamps(tz):
    validation = Validation.model_validate({"columns": {"ts": {"type": "datetime"}, "n": {"type": "str"}}})
    df = pd.DataFrame({"ts": pd.date_range("2026-01-01", periods=4, tz=tz), "n": list("abcd")})
    assert run_gate(df, validation, now=NOW).status == "passed"
    df.loc[2, "n"] = 5
    outcome = run_gate(df, validation, now=NOW)
    assert outcome.status == "failed"
    assert outcome.result.lines() == [
        "n: expected str, 1 row of another type, e.g. 5 (expect_column_values_to_be_in_type_list)"
    ]


def test_reports_are_json_and_html(ride_spec, tmp_path):
    outcome = run_gate(rides(bad_hour_fraction=0.05), ride_spec.validation, now=NOW)
    html, report = write_reports(outcome, tmp_path, "train-1")
    data = json.loads(report.read_text())
    assert data["status"] == "quarantined" and data["rows_quarantined"] == 18
    [hour] = [c for c in data["validation"]["checks"] if c["column"] == "hour" and c["rule"] == "range"]
    assert hour["failed_rows"] == 18 and hour["examples"] == [77] and hour["expectation"].endswith("between")
    page = html.read_text()
    assert "QUARANTINED" in page and "hour: 18 rows outside [0, 23], e.g. 77" in page and "<table>" in page
