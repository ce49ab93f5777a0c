"""Evidently reports on real data and the retrain decision for every trigger (real Evidently, MLflow, SQLite)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from airflow.sdk.exceptions import AirflowSkipException

from airflow_mlops.monitoring.ledger import Ledger
from airflow_mlops.operators.report import EvidentlyReportOperator
from airflow_mlops.operators.retrain import NewDataSignalOperator, RetrainDecisionOperator
from airflow_mlops.spec import load_spec

from .conftest import TaskInstanceStandIn, period, write_labels, write_score_input, write_spec


def report(spec_path: Path) -> dict:
    ti = TaskInstanceStandIn()
    headline = EvidentlyReportOperator(task_id="report", spec_path=str(spec_path)).execute({"ti": ti})
    assert ti.pushed["mlops_report_url"].endswith(f"/mlops-reports/ride_demand/{headline['report_id']}/report.html")
    return headline


def decide(spec_path: Path, headline: dict | None) -> dict | None:
    """The decision when a retrain is requested; None when decide_retrain skips."""
    ti = TaskInstanceStandIn()
    operator = RetrainDecisionOperator(task_id="decide_retrain", spec_path=str(spec_path), report=headline)
    try:
        return operator.execute({"ti": ti})
    except AirflowSkipException:
        assert ti.pushed["decision"]["retrain"] is False
        return None


def test_drifted_period_is_reported_and_requests_one_drift_retrain(home, spec_path):
    features, _ = period(7, seed=8, drift=True)
    write_score_input("ride_demand", features)
    headline = report(spec_path)

    drift = headline["drift"]
    assert drift["detected"] is True and drift["share"] >= 0.3
    assert drift["scores"]["temperature"]["drifted"] and not drift["scores"]["hour"]["drifted"]
    assert headline["prediction_drift"]["drifted"] is True
    assert headline["quality"] is None and headline["labelled_rows"] == 0
    html, js = Path(headline["html"]), Path(headline["json"])
    assert html.parent == home / "reports" / "ride_demand" / "monitoring" / headline["report_id"]
    assert "temperature" in html.read_text() and json.loads(js.read_text())["metrics"]

    from airflow_mlops.hooks.mlflow import MLflowHook

    run = MLflowHook().get_conn().get_run(headline["mlflow_run_id"])
    assert run.data.metrics["drift/share"] == pytest.approx(drift["share"])
    assert run.data.metrics["drift/score/temperature"] > 0.1
    assert run.data.tags["mlops.kind"] == "monitoring"

    decision = decide(spec_path, headline)
    assert decision is not None and decision["reason"] == "drift" and "temperature" in decision["note"]
    assert decide(spec_path, headline) is None  # replaying the same report: no second retrain
    again = report(spec_path)  # the same incident seen by the next monitor run, within the cooldown
    assert again["drift"]["detected"] and again["report_id"] != headline["report_id"]
    assert decide(spec_path, again) is None
    assert [r.reason for r in Ledger().history("ride_demand")] == ["drift"]


def test_stable_period_requests_no_retrain(home, tmp_path):
    # the small linear champion's holdout MAE is about 9.5: a rule it meets on stable data
    monitoring = {"quality_rules": ['metrics["mae"] <= 15'], "retrain_on": ["drift", "metric_drop"]}
    spec_path = write_spec(tmp_path / "ok", monitoring=monitoring)
    features, labels = period(7, seed=8)
    write_score_input("ride_demand", features)
    write_labels(load_spec(spec_path), labels)
    headline = report(spec_path)
    assert headline["drift"]["detected"] is False and headline["drift"]["share"] < 0.3
    assert headline["labelled_rows"] == len(features) and 0 < headline["quality"]["mae"] < 15
    assert set(headline["quality"]) == {"mae", "rmse", "r2", "bias"}
    assert decide(spec_path, headline) is None
    assert Ledger().history("ride_demand") == []


def test_quality_rule_failing_requests_one_metric_drop_retrain(home, tmp_path):
    strict = write_spec(
        tmp_path / "strict", monitoring={"quality_rules": ['metrics["mae"] <= 0.5'], "retrain_on": ["metric_drop"]}
    )
    features, labels = period(7, seed=8)
    write_score_input("ride_demand", features)
    write_labels(load_spec(strict), labels)
    headline = report(strict)
    assert headline["drift"]["detected"] is False and headline["quality"]["mae"] > 0.5
    decision = decide(strict, headline)
    assert decision is not None and decision["reason"] == "metric_drop" and list(decision["reasons"]) == ["metric_drop"]
    assert decide(strict, headline) is None
    assert [r.reason for r in Ledger().history("ride_demand")] == ["metric_drop"]


def test_drift_is_ignored_when_not_in_retrain_on(home, tmp_path):
    spec_path = write_spec(tmp_path / "d", monitoring={"retrain_on": ["schedule", "manual"]})
    write_score_input("ride_demand", period(7, seed=8, drift=True)[0])
    headline = report(spec_path)
    assert headline["drift"]["detected"] is True
    assert decide(spec_path, headline) is None


def test_changed_spec_requests_one_code_change_retrain(home, tmp_path):
    from airflow_mlops.hooks.mlflow import MLflowHook
    from airflow_mlops.monitoring.data import champion
    from airflow_mlops.training.hashing import spec_hash

    unchanged = write_spec(tmp_path / "same", monitoring={"retrain_on": ["code_change"]})
    hook = MLflowHook()  # the champion was trained from this spec (training hashes the whole spec)
    hook.get_conn().set_tag(champion(hook, "ride_demand").run_id, "mlops.spec_hash", spec_hash(load_spec(unchanged)))
    assert decide(unchanged, None) is None  # champion trained from this very spec and code
    changed = write_spec(
        tmp_path / "changed",
        monitoring={"retrain_on": ["code_change"]},
        training={"params": {"max_iter": 50, "learning_rate": 0.2}},
    )
    decision = decide(changed, {"report_id": None, "skipped": "no scoring input"})
    assert decision is not None and decision["reason"] == "code_change" and "spec hash" in decision["note"]
    assert decide(changed, None) is None  # the same code version asks once
    assert [r.reason for r in Ledger().history("ride_demand")] == ["code_change"]


def test_cooldown_expires(home, spec_path):
    from datetime import UTC, datetime

    from airflow_mlops.monitoring.triggers import retrain_decision as decide_fn

    spec = load_spec(spec_path)  # cooldown 6h
    due = {"drift": "share 0.6"}
    ledger, now = Ledger(), datetime(2026, 3, 1, tzinfo=UTC)
    assert decide_fn(spec, due, ledger, report_id="a", code_key="c", now=now).retrain
    held = decide_fn(spec, due, ledger, report_id="b", code_key="c", now=now + timedelta(hours=5))
    assert not held.retrain and "cooldown 6h" in held.suppressed
    assert decide_fn(spec, due, ledger, report_id="c", code_key="c", now=now + timedelta(hours=7)).retrain


def test_new_labels_update_the_asset_once(home, spec_path):
    spec = load_spec(spec_path)
    labels = period(7, seed=8)[1].sort_values("event_timestamp", ignore_index=True)
    write_labels(spec, labels.iloc[:-4])  # all but the newest hour of 4 zones
    op = NewDataSignalOperator(task_id="signal_new_data", spec_path=str(spec_path))
    for _ in range(2):  # baseline, then nothing new
        with pytest.raises(AirflowSkipException):
            op.execute({})
    write_labels(spec, labels)
    signal = op.execute({})
    assert signal["new_rows"] == 4 and signal["newest"] > signal["previous_newest"]
    with pytest.raises(AirflowSkipException):
        op.execute({})


def test_train_dag_is_scheduled_by_cron_or_new_data(tmp_path):
    from airflow.sdk import AssetOrTimeSchedule, CronDataIntervalTimetable

    from airflow_mlops.factory.build import build_dags
    from airflow_mlops.monitoring.assets import new_data_asset

    dags = build_dags(load_spec(write_spec(tmp_path / "a")), tmp_path / "a" / "ride_demand.yaml")
    timetable = dags["ride_demand__train"].timetable
    assert isinstance(timetable, AssetOrTimeSchedule)
    assert "mlops.ride_demand.new_labels" in str(timetable.asset_condition)
    assert isinstance(timetable.timetable, CronDataIntervalTimetable)  # runs cover data intervals
    score = dags["ride_demand__score"]
    assert score.get_task("signal_new_data").outlets == [new_data_asset("ride_demand")]
    monitor = dags["ride_demand__monitor"]
    assert [t.task_id for t in monitor.topological_sort()] == ["report", "decide_retrain", "trigger_train"]
    assert monitor.get_task("trigger_train").trigger_dag_id == "ride_demand__train"

    only_cron = write_spec(tmp_path / "b", monitoring={"retrain_on": ["schedule", "drift"]})
    dags = build_dags(load_spec(only_cron), only_cron)
    assert dags["ride_demand__train"].timetable.expression == "0 0 * * 0"  # @weekly
    assert "signal_new_data" not in dags["ride_demand__score"].task_ids


@pytest.mark.parametrize(
    ("run_type", "conf", "expected"),
    [
        ("asset_triggered", {}, "new_data"),
        ("scheduled", {}, "schedule"),
        ("manual", {"reason": "manual"}, "manual"),
        ("manual", {"reason": "drift"}, "drift"),
    ],
)
def test_trigger_reason_of_a_train_run(run_type, conf, expected):
    from airflow.utils.types import DagRunType

    from airflow_mlops.monitoring.reason import trigger_reason

    dag_run = type("DagRun", (), {"run_type": DagRunType(run_type), "conf": conf})()
    assert trigger_reason({"dag_run": dag_run, "params": {"reason": "schedule"}}) == expected


def test_cli_report_prints_paths_and_numbers(home, spec_path, capsys):
    from airflow_mlops.cli.main import main

    write_score_input("ride_demand", period(7, seed=8, drift=True)[0])
    headline = report(spec_path)
    decide(spec_path, headline)
    assert main(["report", "ride_demand"]) == 0
    out = capsys.readouterr().out
    assert headline["html"] in out and "DRIFT" in out and "temperature" in out and "drift " in out
    assert main(["report", "no_such_model"]) == 1


def test_sampling_caps_rows_per_side(home, tmp_path):
    spec_path = write_spec(tmp_path / "s", monitoring={"drift": {"sample_rows": 1000}})
    features = pd.concat([period(7, seed=8)[0]] * 3, ignore_index=True)  # 2016 rows
    write_score_input("ride_demand", features)
    headline = report(spec_path)
    assert headline["sampled"] is True and headline["current_rows"] == 2016 and headline["sample_rows"] == 1000
