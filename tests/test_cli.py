"""The airflow-mlops console script, run as a user runs it."""

from __future__ import annotations

import json
import os

from .conftest import PROJECT, run_cli


def test_help_lists_commands():
    out = run_cli(["airflow-mlops", "--help"])
    assert out.returncode == 0
    for command in ("validate", "schema", "stub", "demo"):
        assert command in out.stdout


def test_validate_examples_ok():
    out = run_cli(["airflow-mlops", "validate", "dags/"])
    assert out.returncode == 0, out.stderr
    assert "ride_demand.yaml: ok" in out.stdout and "rider_churn.yaml: ok" in out.stdout


def test_validate_bad_spec_names_file_and_both_fields(tmp_path):
    text = (PROJECT / "dags" / "ride_demand.yaml").read_text()
    bad = tmp_path / "bad_spec.yaml"
    bad.write_text(text.replace("\ntraining:", "\ntrainig:").replace("max: 23", "max: abc"))
    (tmp_path / "good.yaml").write_text(text)
    env = {**os.environ, "AIRFLOW_MLOPS_PROJECT": str(PROJECT)}  # the Feast repo and rule files the spec names
    out = run_cli(["airflow-mlops", "validate", str(tmp_path)], env)
    assert out.returncode == 1
    problems = [line for line in out.stderr.splitlines() if line.startswith(str(bad))]
    assert any(": trainig: unknown field" in line for line in problems)
    assert any(": validation.columns.hour.max: " in line for line in problems)
    assert "good.yaml: ok" in out.stdout
    assert "1 of 2 spec(s) invalid" in out.stderr


def test_validate_missing_file():
    out = run_cli(["airflow-mlops", "validate", "no/such/spec.yaml"])
    assert out.returncode == 1 and "cannot read" in out.stderr


def test_schema_prints_json_schema():
    out = run_cli(["airflow-mlops", "schema"])
    assert out.returncode == 0
    assert json.loads(out.stdout)["title"] == "airflow-mlops model spec"


def test_stub_writes_missing_stubs(tmp_path):
    (tmp_path / "new_model.yaml").write_text((PROJECT / "dags" / "ride_demand.yaml").read_text())
    out = run_cli(["airflow-mlops", "stub", str(tmp_path)])
    assert out.returncode == 0 and "new_model.py" in out.stdout
    assert "dags_from_spec(__file__)" in (tmp_path / "new_model.py").read_text()
    again = run_cli(["airflow-mlops", "stub", str(tmp_path)])
    assert "already has its stub" in again.stdout
