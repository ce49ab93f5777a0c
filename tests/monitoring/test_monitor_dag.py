"""The monitor DAG in real Airflow: a drifted period triggers one train DAG run with reason ``drift``.

Runs ``dag.test()`` in a subprocess against a migrated SQLite metadata DB, with a dags folder holding the
ride_demand spec and its stub, and the MLOps home copied from the champion template. Also starts
``airflow api-server`` and reads the plugin's page through it, logged in like the UI.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import airflow_env, run_cli

from .conftest import period, write_score_input, write_spec

pytestmark = pytest.mark.slow

RUN_MONITOR = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
from airflow.models import DagRun
from airflow.utils.session import create_session
bag = DagBag(sys.argv[1])
assert not bag.import_errors, bag.import_errors
run = bag.get_dag("ride_demand__monitor").test()
states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
with create_session() as session:
    train = [
        {"run_type": str(r.run_type), "conf": r.conf}
        for r in session.query(DagRun).filter(DagRun.dag_id == "ride_demand__train")
    ]
print("RESULT " + json.dumps({"states": states, "train_runs": train}))
"""


def run_monitor(env: dict[str, str], dags: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", RUN_MONITOR, str(dags)], env=env, capture_output=True, text=True, timeout=600
    )
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    assert out.returncode == 0 and lines, out.stdout[-3000:] + out.stderr[-5000:]
    return json.loads(lines[-1][len("RESULT ") :])


@pytest.fixture
def airflow_home(tmp_path, home, monkeypatch):
    dags = tmp_path / "dags"
    write_spec(dags, monitoring={"retrain_on": ["drift", "metric_drop", "schedule", "manual"]})
    env = airflow_env(tmp_path / "af", dags_folder=dags)
    env["AIRFLOW_MLOPS_HOME"] = str(home)
    env.pop("MLFLOW_TRACKING_URI", None)
    migrated = run_cli(["airflow", "db", "migrate"], env=env)
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    return env, dags


def test_drift_triggers_one_train_run_then_cooldown_holds(airflow_home):
    env, dags = airflow_home
    write_score_input("ride_demand", period(7, seed=8, drift=True)[0])
    first = run_monitor(env, dags)
    assert first["states"] == {"report": "success", "decide_retrain": "success", "trigger_train": "success"}
    assert len(first["train_runs"]) == 1
    assert first["train_runs"][0]["conf"]["reason"] == "drift"
    assert "temperature" in first["train_runs"][0]["conf"]["note"]

    second = run_monitor(env, dags)  # the same incident, next monitor run: within the cooldown
    assert second["states"] == {"report": "success", "decide_retrain": "skipped", "trigger_train": "skipped"}
    assert len(second["train_runs"]) == 1


def test_stable_data_triggers_nothing(airflow_home):
    env, dags = airflow_home
    write_score_input("ride_demand", period(7, seed=8)[0])
    result = run_monitor(env, dags)
    assert result["states"]["decide_retrain"] == "skipped" and result["train_runs"] == []


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_plugin_page_lists_reports_in_the_api_server(airflow_home, spec_path):
    import httpx

    from airflow_mlops.operators.report import EvidentlyReportOperator

    from .conftest import TaskInstanceStandIn

    env, _ = airflow_home
    write_score_input("ride_demand", period(7, seed=8, drift=True)[0])
    headline = EvidentlyReportOperator(task_id="report", spec_path=str(spec_path)).execute(
        {"ti": TaskInstanceStandIn()}
    )
    port = _free_port()
    env = {**env, "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}"}
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "airflow"), "api-server", "--port", str(port), "--host", "127.0.0.1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/api/v2/monitor/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(1)
        assert httpx.get(f"{base}/mlops-reports/", timeout=10).status_code == 401  # needs an Airflow login
        passwords = Path(env["AIRFLOW_HOME"]) / "simple_auth_manager_passwords.json.generated"
        user, password = next(iter(json.loads(passwords.read_text()).items()))
        token = httpx.post(f"{base}/auth/token", json={"username": user, "password": password}, timeout=10)
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        page = httpx.get(f"{base}/mlops-reports/", headers=headers, timeout=10)
        assert page.status_code == 200 and headline["report_id"] in page.text and "DRIFT" in page.text
        html = httpx.get(f"{base}/mlops-reports/ride_demand/{headline['report_id']}/report.html", headers=headers)
        assert html.status_code == 200 and html.content == Path(headline["html"]).read_bytes()
        plugins = httpx.get(f"{base}/api/v2/plugins", headers=headers, timeout=10).json()
        ours = next(p for p in plugins["plugins"] if p["name"] == "airflow_mlops_reports")
        assert ours["external_views"][0]["href"] == "/mlops-reports/"
    finally:
        server.terminate()
        server.wait(timeout=30)
    shutil.rmtree(Path(env["AIRFLOW_HOME"]) / "logs", ignore_errors=True)
