"""Hooks fall back to the embedded stores only when a connection is undefined, never on a lookup error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_mlops.hooks.connections import ConnectionLookupError

PROJECT = Path(__file__).resolve().parents[2]
BACKEND = "tests.hooks.secrets_backends.UnreachableBackend"
PROBE = """
import json
from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowNotFoundException
from airflow_mlops.hooks.mlflow import MLflowHook
from airflow_mlops.hooks.scores_db import ScoresDbHook

out = {}
try:
    BaseHook.get_connection("scores_db")
    out["airflow"] = "found"
except AirflowNotFoundException:
    out["airflow"] = "AirflowNotFoundException"
for name, make in (("scores", lambda: ScoresDbHook().dialect), ("mlflow", lambda: MLflowHook().tracking_uri)):
    try:
        out[name] = {"ok": make()}
    except Exception as exc:
        out[name] = {"error": type(exc).__name__, "message": str(exc)}
print(json.dumps(out))
"""


def probe(tmp_path: Path, **env: str) -> dict:
    """Build both hooks in a fresh process (Airflow caches its secrets backends per process)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "MLFLOW"))}
    base |= {
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW_MLOPS_HOME": str(tmp_path / "mlops"),
        "PYTHONPATH": str(PROJECT),
        **env,
    }
    proc = subprocess.run(
        [sys.executable, "-c", PROBE], env=base, cwd=PROJECT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def local_files(tmp_path: Path) -> list[str]:
    home = tmp_path / "mlops"
    return sorted(str(p.relative_to(home)) for p in home.rglob("*.db")) if home.exists() else []


def test_unreachable_secrets_backend_fails_naming_the_conn_id(tmp_path):
    out = probe(tmp_path, AIRFLOW__SECRETS__BACKEND=BACKEND)
    # Airflow itself reports the failing backend as "not defined": the reason a narrow except is not enough.
    assert out["airflow"] == "AirflowNotFoundException"
    for name, conn_id in (("scores", "scores_db"), ("mlflow", "mlflow_default")):
        assert out[name].get("error") == "ConnectionLookupError", out
        message = out[name]["message"]
        assert repr(conn_id) in message and "UnreachableBackend" in message, message
        assert "hunter2-secret" not in message and "***@vault:8200" in message, message
    assert local_files(tmp_path) == []


def test_undefined_connections_fall_back_to_the_embedded_stores(tmp_path):
    out = probe(tmp_path)
    assert out["scores"] == {"ok": "sqlite"}
    assert out["mlflow"]["ok"] == f"sqlite:///{tmp_path / 'mlops' / 'mlflow' / 'mlflow.db'}"


def test_no_embedded_fallback_when_remote_stores_are_configured(tmp_path):
    out = probe(
        tmp_path,
        MLFLOW_TRACKING_URI="http://bob:tracking-pw@mlflow:5000",
        AIRFLOW_MLOPS_HISTORY_URI="postgresql://mlops:history-pw@pg/mlops",
    )
    assert out["mlflow"] == {"ok": "http://bob:tracking-pw@mlflow:5000"}  # the configured store, not a fallback
    message = out["scores"]["message"]
    assert out["scores"]["error"] == "ConnectionLookupError" and "'scores_db'" in message, out
    assert "history-pw" not in message and "tracking-pw" not in message, message
    assert "postgresql://***@pg/mlops" in message, message
    assert local_files(tmp_path) == []


def test_embedded_stores_can_be_forbidden(tmp_path):
    out = probe(tmp_path, AIRFLOW_MLOPS_EMBEDDED="false")
    for name, conn_id in (("scores", "scores_db"), ("mlflow", "mlflow_default")):
        assert out[name]["error"] == "ConnectionLookupError" and repr(conn_id) in out[name]["message"]
    assert local_files(tmp_path) == []


def test_a_defined_connection_is_used(tmp_path):
    db = tmp_path / "elsewhere.db"
    out = probe(
        tmp_path,
        AIRFLOW_CONN_SCORES_DB=json.dumps({"conn_type": "sqlite", "host": str(db)}),
        AIRFLOW_CONN_MLFLOW_DEFAULT=json.dumps({"conn_type": "http", "host": "http://mlflow.internal:5000"}),
        AIRFLOW__SECRETS__BACKEND=BACKEND,  # raising first, the env var backend then has it: Airflow reads it
    )
    assert out == {"airflow": "found", "scores": {"ok": "sqlite"}, "mlflow": {"ok": "http://mlflow.internal:5000"}}
    assert local_files(tmp_path) == []


class FakeSupervisor:
    """The task runner's channel to its supervisor, answering GetConnection with a fixed error."""

    def __init__(self, error: str) -> None:
        self.error = error
        self.asked: list[str] = []

    def send(self, msg):
        from airflow.sdk.exceptions import AirflowRuntimeError, ErrorType
        from airflow.sdk.execution_time.comms import ErrorResponse

        self.asked.append(type(msg).__name__)
        if type(msg).__name__ == "GetConnection":
            raise AirflowRuntimeError(ErrorResponse(error=ErrorType(self.error), detail={"status_code": 503}))
        return None


@pytest.fixture
def in_task(monkeypatch, tmp_path):
    """Pretend to run inside a task whose supervisor answers with ``error`` (an API server cannot fail here)."""
    from airflow.sdk.execution_time import task_runner

    monkeypatch.setenv("AIRFLOW_MLOPS_HOME", str(tmp_path / "mlops"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)

    def install(error: str) -> FakeSupervisor:
        fake = FakeSupervisor(error)
        monkeypatch.setattr(task_runner, "SUPERVISOR_COMMS", fake, raising=False)
        return fake

    return install


def test_api_server_error_inside_a_task_fails(in_task, tmp_path):
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    from airflow_mlops.hooks.scores_db import ScoresDbHook

    fake = in_task("API_SERVER_ERROR")
    with pytest.raises(AirflowNotFoundException):  # what Airflow 3.3 makes of a 503
        BaseHook.get_connection("scores_db")
    with pytest.raises(ConnectionLookupError, match=r"'scores_db'.*API_SERVER_ERROR"):
        _ = ScoresDbHook().dialect
    assert fake.asked.count("GetConnection") == 3  # BaseHook above, the hook, our confirmation
    assert local_files(tmp_path) == []


def test_not_found_inside_a_task_falls_back_and_says_so(in_task, tmp_path, capfd):
    from airflow_mlops.hooks.scores_db import ScoresDbHook

    in_task("CONNECTION_NOT_FOUND")
    assert ScoresDbHook().dialect == "sqlite"
    logged = "".join(capfd.readouterr())
    assert f"scores database: embedded SQLite {tmp_path / 'mlops' / 'scores.db'}" in logged, logged


PROBE_DAG = """
from airflow.sdk import dag, task


@dag(schedule=None)
def connection_probe():
    @task
    def probe():
        from airflow_mlops.hooks.scores_db import ScoresDbHook

        return ScoresDbHook().dialect

    probe()


connection_probe()
"""


@pytest.mark.slow
def test_inside_a_real_task_an_unreachable_backend_fails_the_task(tmp_path):
    """`airflow dags test` runs the task through the task SDK's supervisor and its backend chain."""
    from tests.conftest import airflow_env, run_cli

    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "connection_probe.py").write_text(PROBE_DAG)
    env = airflow_env(tmp_path / "home", dags)
    env.pop("AIRFLOW_CONN_SCORES_DB")
    env["AIRFLOW__SECRETS__BACKEND"] = BACKEND
    assert run_cli(["airflow", "db", "migrate"], env=env).returncode == 0
    out = run_cli(["airflow", "dags", "test", "connection_probe"], env=env)
    logged = out.stdout + out.stderr
    assert "cannot read Airflow connection 'scores_db' (secrets backend UnreachableBackend failed)" in logged, logged[
        -4000:
    ]
    assert "hunter2-secret" not in logged
    assert "Run failed" in logged, logged[-2000:]  # the task failed; it did not write to a local file
    assert not (tmp_path / "home" / "scores.db").exists()
