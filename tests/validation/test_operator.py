"""GXValidateOperator.execute with a context-like object: policies, files, XCom and the report link."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_mlops import settings
from airflow_mlops.links import ValidationReportLink
from airflow_mlops.operators.validate import GXValidateOperator

from .conftest import CHURN_SPEC, RIDE_SPEC, context_for, riders, rides

KEY = ["zone_id", "event_timestamp"]


def _run(df: pd.DataFrame, tmp_path: Path, spec: Path = RIDE_SPEC, purpose: str = "train"):
    source = tmp_path / "materialized.parquet"
    df.to_parquet(source, index=False)
    context = context_for(source, len(df))
    operator = GXValidateOperator(
        task_id="validate", purpose=purpose, spec_path=str(spec), dataset=str(source), retries=3
    )
    return operator, context, lambda: operator.execute(context)


def test_five_percent_bad_rows_are_quarantined_and_the_task_succeeds(tmp_path):
    df = rides(bad_hour_fraction=0.05)
    _, context, execute = _run(df, tmp_path)
    out = execute()
    assert (out["rows_in"], out["rows_good"], out["rows_quarantined"]) == (360, 342, 18)
    assert out["rows_in"] == out["rows_good"] + out["rows_quarantined"]

    folder = settings.model_datasets_dir("ride_demand", "train")
    good, quarantine = pd.read_parquet(out["dataset"]), pd.read_parquet(out["quarantine"])
    assert Path(out["dataset"]).parent == folder and Path(out["quarantine"]).parent == folder / "quarantine"
    assert Path(out["dataset"]).stem == out["digest"] and len(out["digest"]) == 64
    assert len(good) == 342 and not (good["hour"] == 77).any()
    expected = df.loc[df["hour"] == 77, KEY]
    assert set(map(tuple, quarantine[KEY].to_numpy())) == set(map(tuple, expected.to_numpy()))
    assert (quarantine["quarantine_reason"] == "hour=77 outside [0, 23]").all()
    assert list(good.columns) == list(df.columns)

    report = json.loads(Path(out["report_json"]).read_text())
    assert report["status"] == "quarantined" and report["rows_quarantined"] == 18
    assert Path(out["report_html"]).parent == settings.model_reports_dir("ride_demand") / "validation"
    assert context["ti"].pushed[ValidationReportLink.key] == Path(out["report_html"]).resolve().as_uri()


def test_thirty_percent_bad_rows_fail_without_retry(tmp_path):
    _, context, execute = _run(rides(bad_hour_fraction=0.3), tmp_path)
    with pytest.raises(AirflowFailException) as info:
        execute()
    message = str(info.value)
    assert "hour: 108 rows outside [0, 23], e.g. 77 (expect_column_values_to_be_between)" in message
    assert "more than max_bad_fraction 10.0%" in message
    # the failed run still leaves its report, linked from the task
    assert Path(context["ti"].pushed[ValidationReportLink.key].removeprefix("file://")).exists()


def test_clean_data_goes_on_unchanged(tmp_path):
    df = rides()
    _, _, execute = _run(df, tmp_path, purpose="score")
    out = execute()
    assert (out["rows_good"], out["rows_quarantined"], out["quarantine"]) == (360, 0, None)
    assert Path(out["dataset"]).parent == settings.model_datasets_dir("ride_demand", "score")
    pd.testing.assert_frame_equal(pd.read_parquet(out["dataset"]), df)


def test_fail_policy_raises_with_the_summary(tmp_path):
    _, _, execute = _run(riders(null_fraction=0.01), tmp_path, spec=CHURN_SPEC)
    with pytest.raises(AirflowFailException, match=r"cancel_rate: 4 nulls \(expect_column_values_to_not_be_null\)"):
        execute()


def test_wrong_type_fails_the_batch_even_under_quarantine(tmp_path):
    _, _, execute = _run(rides(int_temperature=True), tmp_path)
    with pytest.raises(AirflowFailException, match="temperature: expected float, got int64"):
        execute()


def test_operator_declares_its_link_and_checks_purpose():
    assert any(isinstance(link, ValidationReportLink) for link in GXValidateOperator.operator_extra_links)
    with pytest.raises(ValueError, match="purpose"):
        GXValidateOperator(task_id="validate", purpose="predict", spec_path=str(RIDE_SPEC), dataset="x.parquet")


def test_clean_materialized_dataset_is_passed_on_without_rewriting(tmp_path):
    from airflow_mlops.datasets import save_parquet

    df = rides()
    source, digest = save_parquet(df, settings.model_datasets_dir("ride_demand", "score"))
    written_at = source.stat().st_mtime_ns
    operator = GXValidateOperator(task_id="validate", purpose="score", spec_path=str(RIDE_SPEC), dataset=str(source))
    out = operator.execute(context_for(source, len(df)))
    assert (out["dataset"], out["digest"], out["rows_good"]) == (str(source), digest, len(df))
    assert source.stat().st_mtime_ns == written_at
