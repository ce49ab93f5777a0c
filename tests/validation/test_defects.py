"""Each data defect gets a name, a count and a policy: empty batches, duplicate keys, future rows, nullable
integers, null labels, missing columns. The gate on real Great Expectations runs, and ``check-data``."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from airflow_mlops.cli.main import main
from airflow_mlops.spec.schema import Validation
from airflow_mlops.validation.gate import run_gate
from airflow_mlops.validation.keys import spec_keys

from .conftest import NOW, RIDE_SPEC, rides


def _gate(df, spec, purpose="train", **changes):
    validation = spec.validation.model_copy(update=changes) if changes else spec.validation
    return run_gate(df, validation, now=NOW, keys=spec_keys(spec, purpose))


def _check_data(tmp_path, capsys, df, *extra, suffix=".parquet"):
    path = tmp_path / f"data{suffix}"
    df.to_csv(path, index=False) if suffix == ".csv" else df.to_parquet(path, index=False)
    code = main(["check-data", str(RIDE_SPEC), str(path), "--now", NOW.isoformat(), *extra])
    return code, capsys.readouterr().out


# --- empty input -----------------------------------------------------------------------------------


def test_empty_batch_is_a_named_failure_with_the_expected_count(ride_spec):
    outcome = _gate(rides().iloc[:0], ride_spec)
    assert outcome.status == "failed" and outcome.rows_in == 0
    assert "table: 0 rows, at least 100 expected (expect_table_row_count_to_be_between)" in outcome.result.lines()
    without_minimum = _gate(rides().iloc[:0], ride_spec, row_count=None)
    assert "table: 0 rows, at least 1 expected (expect_table_row_count_to_be_between)" in without_minimum.result.lines()


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_check_data_on_an_empty_file_exits_1_naming_the_count(tmp_path, capsys, suffix):
    code, out = _check_data(tmp_path, capsys, rides().iloc[:0], suffix=suffix)
    assert code == 1
    assert "FAILED" in out and "table: 0 rows, at least 100 expected" in out
    assert "Traceback" not in out


# --- duplicate (entity, timestamp) keys ------------------------------------------------------------


def _with_duplicates(exact: int = 10, conflicting: int = 6) -> pd.DataFrame:
    """rides() plus ``exact`` verbatim copies and ``conflicting`` copies with another temperature."""
    base = rides()
    other = base.iloc[100 : 100 + conflicting].assign(temperature=lambda d: d.temperature + 5)
    return pd.concat([base, base.iloc[:exact], other], ignore_index=True)


def test_exact_copies_are_dropped_and_conflicting_ones_all_quarantined(ride_spec):
    outcome = _gate(_with_duplicates(), ride_spec)
    assert outcome.status == "quarantined"
    assert (outcome.rows_in, outcome.duplicates_dropped, outcome.rows_quarantined, outcome.rows_good) == (
        376,
        10,
        12,
        354,
    )
    assert any(
        line.startswith(
            "(zone_id, event_timestamp): 12 rows share a key with different values (all copies quarantined)"
        )
        for line in outcome.result.lines()
    )
    assert "10 duplicate rows dropped (a copy of each kept)" in outcome.summary()
    reasons = outcome.split.bad["quarantine_reason"]
    assert reasons.str.startswith("duplicate key (zone_id=").all() and len(reasons) == 12
    assert not outcome.split.good.duplicated(["zone_id", "event_timestamp"]).any()
    assert outcome.to_dict()["duplicates_dropped"] == 10


def test_duplicates_drop_keeps_the_first_row_of_each_key(ride_spec):
    outcome = _gate(_with_duplicates(), ride_spec, duplicates="drop")
    assert outcome.status == "passed" and outcome.duplicates_dropped == 16 and outcome.rows_good == 360
    kept = outcome.frame.set_index(["zone_id", "event_timestamp"]).temperature
    original = rides().set_index(["zone_id", "event_timestamp"]).temperature
    assert kept.sort_index().equals(original.sort_index())  # the first copy (the original) won


def test_duplicates_fail_rejects_the_batch(ride_spec):
    outcome = _gate(_with_duplicates(exact=1, conflicting=0), ride_spec, duplicates="fail")
    assert outcome.status == "failed" and outcome.duplicates_dropped == 0
    assert "(zone_id, event_timestamp): 2 rows share a key with different values (the batch is rejected)" in (
        outcome.summary()
    )
    assert "Table-level check failed ((zone_id, event_timestamp) duplicate_key)" in outcome.reason


def test_conflicting_duplicates_count_against_max_bad_fraction(ride_spec):
    outcome = _gate(_with_duplicates(exact=0, conflicting=30), ride_spec)  # 60 of 390 rows (15 %)
    assert outcome.status == "failed"
    assert "60 of 390 rows (15.4%) are bad, more than max_bad_fraction 10.0%" in outcome.reason


# --- future timestamps -----------------------------------------------------------------------------


def test_future_rows_are_quarantined_with_a_reason(ride_spec):
    base = rides()
    future = base.iloc[:9].assign(event_timestamp=lambda d: d.event_timestamp + timedelta(days=365))
    outcome = _gate(pd.concat([base, future], ignore_index=True), ride_spec)
    assert outcome.status == "quarantined" and outcome.rows_quarantined == 9 and outcome.rows_good == 360
    [line] = [x for x in outcome.result.lines() if x.startswith("event_timestamp:")]
    assert line.startswith("event_timestamp: 9 rows in the future, after ")
    assert "(now + max_clock_skew 1h)" in line
    assert outcome.split.bad["quarantine_reason"].str.contains(r"in the future \(after .*, now \+ 1h\)").all()


def test_rows_within_the_clock_skew_pass(ride_spec):
    base = rides()
    stamps = pd.Timestamp.now(tz="UTC").floor("min") + pd.to_timedelta([30, 31, 32, 33, 34], unit="min")
    soon = base.iloc[:5].assign(event_timestamp=stamps)
    assert _gate(pd.concat([base, soon], ignore_index=True), ride_spec).status == "passed"
    strict = _gate(pd.concat([base, soon], ignore_index=True), ride_spec, max_clock_skew="1m")
    assert strict.status == "quarantined" and strict.rows_quarantined == 5


def test_future_rows_do_not_make_a_stale_batch_fresh(ride_spec):
    stale = rides(stale_days=40)
    future = stale.iloc[:3].assign(event_timestamp=lambda d: d.event_timestamp + timedelta(days=400))
    outcome = _gate(pd.concat([stale, future], ignore_index=True), ride_spec)
    assert outcome.status == "failed"
    assert "event_timestamp: newest value 2026-01-21 12:00 is older than 30d" in outcome.summary()


# --- nullable integers -----------------------------------------------------------------------------


def test_int_column_with_nulls_quarantines_rows_one_by_one(ride_spec):
    df = rides()
    df["hour"] = df["hour"].astype("float64")  # what Feast returns for an int column with nulls
    df.loc[[3, 50, 200, 201, 300, 359], "hour"] = np.nan
    outcome = _gate(df, ride_spec)
    assert outcome.status == "quarantined" and outcome.rows_quarantined == 6 and outcome.rows_good == 354
    assert outcome.result.lines() == ["hour: 6 nulls (expect_column_values_to_not_be_null)"]
    assert str(outcome.split.good["hour"].dtype) == "Int64"
    assert "read as nullable integers (Int64): hour" in outcome.summary()


def test_float_column_with_fractions_still_fails_the_int_type(ride_spec):
    df = rides()
    df["hour"] = df["hour"].astype("float64")
    df.loc[7, "hour"] = 3.5
    outcome = _gate(df, ride_spec)
    assert outcome.status == "failed" and "Table-level check failed (hour type)" in outcome.reason


# --- labels ----------------------------------------------------------------------------------------


def test_null_labels_are_quarantined_under_the_same_limit(ride_spec):
    df = rides()
    df.loc[:17, "trips"] = np.nan  # 18 of 360 = 5 %
    outcome = _gate(df, ride_spec)
    assert outcome.status == "quarantined" and outcome.rows_quarantined == 18
    assert "trips: 18 nulls (expect_column_values_to_not_be_null)" in outcome.result.lines()
    df.loc[:59, "trips"] = np.nan  # 60 of 360 > 10 %
    too_many = _gate(df, ride_spec)
    assert too_many.status == "failed" and "more than max_bad_fraction" in too_many.reason


def test_label_rules_apply_to_training_only(ride_spec):
    label_rule = {"type": "float", "min": 0}
    validation = ride_spec.validation.model_copy(update={"label": label_rule})
    validation = Validation.model_validate(validation.model_dump())
    df = rides()
    df.loc[:4, "trips"] = -1.0
    spec = ride_spec.model_copy(update={"validation": validation})
    train = _gate(df, spec)
    assert train.status == "quarantined" and "trips: 5 rows below 0, e.g. -1 (expect_column_values_to_be_between)" in (
        train.result.lines()
    )
    score = _gate(df.drop(columns="trips"), spec, purpose="score")
    assert score.status == "passed"
    assert not any(c.check.column == "trips" for c in score.result.checks)


def test_a_label_rule_in_columns_does_not_break_scoring(ride_spec):
    columns = {**ride_spec.validation.columns, "trips": {"type": "float", "not_null": True}}
    validation = Validation.model_validate({**ride_spec.validation.model_dump(), "columns": columns})
    spec = ride_spec.model_copy(update={"validation": validation})
    assert _gate(rides().drop(columns="trips"), spec, purpose="score").status == "passed"
    missing = _gate(rides().drop(columns="trips"), spec, purpose="train")
    assert missing.status == "failed" and "trips exists" in missing.reason


def test_training_refuses_null_labels_as_a_data_error(ride_spec):
    from airflow_mlops.training.fit import train
    from airflow_mlops.validation.errors import DataError

    df = rides()
    df.loc[:2, "trips"] = np.nan
    with pytest.raises(DataError, match="label 'trips' has 3 nulls of 360 rows"):
        train(df, ride_spec)
    with pytest.raises(DataError, match=r"column 'temperature' missing; arrived: .*; new: 'temp_c'"):
        train(rides().rename(columns={"temperature": "temp_c"}), ride_spec)


# --- missing or renamed columns --------------------------------------------------------------------


def test_renamed_column_is_named_with_what_arrived(ride_spec, tmp_path, capsys):
    renamed = rides().rename(columns={"temperature": "temp_c"})
    outcome = _gate(renamed, ride_spec)
    [line] = [x for x in outcome.result.lines() if x.startswith("temperature:")]
    assert line.startswith("temperature: column 'temperature' missing; arrived: zone_id, event_timestamp, hour,")
    assert line.endswith("; new: 'temp_c', 'created' (expect_column_to_exist)")
    code, out = _check_data(tmp_path, capsys, renamed)
    assert code == 1 and "new: 'temp_c'" in out


# --- check-data prints every defect with its count ---------------------------------------------------


def test_check_data_counts_each_defect(tmp_path, capsys):
    df = _with_duplicates(exact=4, conflicting=3)
    df["hour"] = df["hour"].astype("float64")
    df.loc[[50, 51], "hour"] = np.nan
    future = rides().iloc[200:205].assign(event_timestamp=lambda d: d.event_timestamp + timedelta(days=365))
    df = pd.concat([df, future], ignore_index=True)
    df.loc[60, "trips"] = np.nan
    bad = tmp_path / "bad.parquet"
    code, out = _check_data(tmp_path, capsys, df, "--quarantine", str(bad), "--purpose", "train")
    assert code == 0, out
    assert "hour: 2 nulls" in out and "trips: 1 null " in out
    assert "(zone_id, event_timestamp): 6 rows share a key with different values" in out
    assert "event_timestamp: 5 rows in the future" in out
    assert "4 duplicate rows dropped" in out
    assert "14 of 368 rows (3.8%) quarantined" in out  # 372 in, 4 exact copies dropped
    assert len(pd.read_parquet(bad)) == 14
    code, out = _check_data(tmp_path, capsys, df, "--strict")
    assert code == 1


def test_train_task_fails_without_retry_on_a_data_error(tmp_path, ride_spec):
    """Null labels that bypassed the gate stop the train task with AirflowFailException (no retry)."""
    from airflow.sdk.exceptions import AirflowFailException

    from airflow_mlops.operators.train import MLflowTrainOperator

    from .conftest import TaskInstance

    df = rides()
    df.loc[:299, "trips"] = np.nan
    df.to_parquet(tmp_path / "train.parquet", index=False)
    ti = TaskInstance({})
    inputs = {"dataset": str(tmp_path / "train.parquet"), "digest": "0" * 64}
    op = MLflowTrainOperator(task_id="train", spec_path=str(RIDE_SPEC), **inputs)
    with pytest.raises(AirflowFailException, match="data error: label 'trips' has 300 nulls of 360 rows"):
        op.execute({"ti": ti, "dag_run": None})
