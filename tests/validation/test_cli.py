"""``airflow-mlops check-data``: the same checks and summary outside Airflow, exit codes 0/1/2."""

from __future__ import annotations

import json

import pytest

from airflow_mlops.cli.main import main

from ..conftest import run_cli
from .conftest import CHURN_SPEC, NOW, RIDE_SPEC, riders, rides


def test_clean_parquet_exits_0(tmp_path, capsys):
    data = tmp_path / "rides.parquet"
    rides().to_parquet(data)
    assert main(["check-data", str(RIDE_SPEC), str(data), "--now", NOW.isoformat()]) == 0
    assert "PASSED" in capsys.readouterr().out


def test_stale_csv_exits_1_with_the_summary(tmp_path, capsys):
    data = tmp_path / "rides.csv"
    rides(stale_days=40).to_csv(data, index=False)
    assert main(["check-data", str(RIDE_SPEC), str(data), "--now", NOW.isoformat()]) == 1
    out = capsys.readouterr().out
    assert "FAILED" in out
    assert "event_timestamp: newest value 2026-01-21 12:00 is older than 30d" in out


def test_quarantine_within_limit_passes_unless_strict(tmp_path, capsys):
    data, bad = tmp_path / "rides.parquet", tmp_path / "bad.parquet"
    rides(bad_hour_fraction=0.05).to_parquet(data)
    args = ["check-data", str(RIDE_SPEC), str(data), "--now", NOW.isoformat()]
    assert main([*args, "--quarantine", str(bad), "--report-dir", str(tmp_path / "reports")]) == 0
    out = capsys.readouterr().out
    assert "hour: 18 rows outside [0, 23], e.g. 77" in out and "18 of 360 rows (5.0%) quarantined" in out
    [report] = (tmp_path / "reports").glob("*.json")
    assert json.loads(report.read_text())["rows_quarantined"] == 18
    import pandas as pd

    assert len(pd.read_parquet(bad)) == 18
    assert main([*args, "--strict"]) == 1


def test_bad_inputs_exit_2(tmp_path, capsys):
    assert main(["check-data", str(RIDE_SPEC), str(tmp_path / "missing.parquet")]) == 2
    (tmp_path / "data.txt").write_text("x")
    assert main(["check-data", str(RIDE_SPEC), str(tmp_path / "data.txt")]) == 2
    assert "expected a .parquet or .csv file" in capsys.readouterr().err


def test_console_script_exits_1_on_failure(tmp_path):
    data = tmp_path / "riders.parquet"
    riders(null_fraction=0.01).to_parquet(data)
    result = run_cli(["airflow-mlops", "check-data", str(CHURN_SPEC), str(data)], timeout=300)
    assert result.returncode == 1, result.stderr
    assert "cancel_rate: 4 nulls (expect_column_values_to_not_be_null)" in result.stdout
    assert "great_expectations" not in result.stdout + result.stderr  # GX's INFO chatter is silenced


def test_help_explains_the_command(capsys):
    with pytest.raises(SystemExit):
        main(["check-data", "--help"])
    out = capsys.readouterr().out
    assert "SPEC DATA_FILE" in out and "max_bad_fraction" in out and "exit 1" in out
