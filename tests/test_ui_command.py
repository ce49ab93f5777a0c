"""``airflow-mlops ui`` (``./dev ui``): Airflow on exactly the state the demo left, nothing inherited, nothing else."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from airflow_mlops.cli import _demo_home
from airflow_mlops.cli.ui import OVERRIDES, ui_env

from .conftest import PROJECT, VENV_BIN, run_cli
from .pg import free_port

AIRFLOW_CFG = """[core]
# The folder where your airflow pipelines live
dags_folder = /somewhere/else
#load_examples = True
load_examples = True

[logging]
log_format = [%%(asctime)s] %%(message)s
"""


def test_set_options_edits_only_its_lines(tmp_path):
    cfg = tmp_path / "airflow.cfg"
    cfg.write_text(AIRFLOW_CFG)
    settings = _demo_home.demo_settings(tmp_path / "home", PROJECT)
    _demo_home.set_options(cfg, settings)
    _demo_home.set_options(cfg, settings)  # idempotent
    text = cfg.read_text()
    assert text.count("dags_folder =") == 1 and f"dags_folder = {PROJECT / 'dags'}" in text
    assert "\nload_examples = False\n" in text and "#load_examples = True" in text  # the comment stays
    assert "# The folder where your airflow pipelines live" in text and "%%(asctime)s" in text
    assert text.count("[mlops]") == 1
    options = _demo_home.read_options(cfg)
    assert options.get("mlops", "home") == str(tmp_path / "home")
    assert options.get("core", "load_examples") == "False"


@pytest.mark.parametrize("bad", ["with\nnewline", "percent%(x)s", "tab\there"])
def test_paths_that_would_rewrite_other_options_are_refused(tmp_path, bad):
    with pytest.raises(ValueError, match=r"cannot go into airflow\.cfg"):
        _demo_home.demo_settings(tmp_path / bad, PROJECT)


def test_refuses_a_home_without_demo_state(tmp_path):
    out = run_cli(["airflow-mlops", "ui", "--home", str(tmp_path / "nothing"), "--port", str(free_port())])
    assert out.returncode == 1
    assert "no demo state under" in out.stderr and "run ./dev demo first" in out.stderr
    # a bare Airflow home (migrated, but never a demo) is refused too
    (tmp_path / "bare" / "airflow").mkdir(parents=True)
    (tmp_path / "bare" / "airflow" / "airflow.db").write_bytes(b"")
    (tmp_path / "bare" / "airflow" / "airflow.cfg").write_text(AIRFLOW_CFG)
    out = run_cli(["airflow-mlops", "ui", "--home", str(tmp_path / "bare")])
    assert out.returncode == 1 and "run ./dev demo first" in out.stderr


def test_refuses_a_moved_home(tmp_path):
    home = tmp_path / "moved"
    _demo_home.set_options(home / "airflow" / "airflow.cfg", _demo_home.demo_settings(tmp_path / "original", PROJECT))
    (home / "airflow" / "airflow.db").write_bytes(b"")
    out = run_cli(["airflow-mlops", "ui", "--home", str(home)])
    assert out.returncode == 1 and f"demo state of {tmp_path / 'original'}" in out.stderr


def test_the_callers_settings_cannot_override_the_home(tmp_path, monkeypatch):
    for name in OVERRIDES:
        monkeypatch.setenv(name, "/elsewhere")
    env = ui_env(tmp_path, "127.0.0.1", 8123)
    assert not set(OVERRIDES) & set(env)
    assert env["AIRFLOW_HOME"] == str(tmp_path / "airflow")
    assert env["PATH"].split(os.pathsep)[0] == str(VENV_BIN)
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:8123/execution/"


def test_dev_script_routes_ui():
    text = (PROJECT / "dev").read_text()
    assert 'ui)    setup; exec .venv/bin/airflow-mlops ui "$@"' in text
    help_text = subprocess.run([str(PROJECT / "dev"), "help"], capture_output=True, text=True, check=True).stdout
    assert "./dev ui [--home DIR]" in help_text and "set -euo" not in help_text


# ---------------------------------------------------------------------------------------------------------------
# The real thing: a reduced demo, then `airflow-mlops ui` on its home, driven over the REST API.

MODEL = "rider_churn"


def _wait_for(path: Path, pattern: str, proc: subprocess.Popen, timeout: float) -> re.Match:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = re.search(pattern, path.read_text(errors="replace"))
        if found:
            return found
        assert proc.poll() is None, f"ui exited with {proc.returncode}:\n{path.read_text(errors='replace')}"
        time.sleep(1)
    raise AssertionError(f"no {pattern!r} after {timeout:.0f}s:\n{path.read_text(errors='replace')}")


@pytest.fixture(scope="module")
def ui(tmp_path_factory):
    """A reduced demo (one model, no drift phase), then `airflow-mlops ui` on it with a hostile environment."""
    home = tmp_path_factory.mktemp("ui") / "demo"
    demo = run_cli(["airflow-mlops", "demo", "--home", str(home), "--models", MODEL, "--no-drift"], timeout=1200)
    assert demo.returncode == 0, demo.stdout[-4000:] + demo.stderr[-2000:]
    assert "./dev ui --home" in demo.stdout and "airflow standalone" not in demo.stdout
    port = free_port()
    env = dict(os.environ)
    env.update(  # what the caller's shell might hold: none of it may reach the UI's Airflow
        {
            "AIRFLOW_HOME": str(home / "elsewhere"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "True",
            "AIRFLOW__CORE__DAGS_FOLDER": str(home / "no-dags"),
            "AIRFLOW_MLOPS_HOME": str(home / "elsewhere"),
            "MLFLOW_TRACKING_URI": f"sqlite:///{home / 'elsewhere.db'}",
            "PATH": "/usr/bin:/bin",  # no venv: the ui must put it on PATH for standalone
            # cheaper for 2 cores; not settings the home owns
            "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "300",
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
        }
    )
    out = home / "ui.out"
    with out.open("wb") as sink:
        proc = subprocess.Popen(
            [str(VENV_BIN / "airflow-mlops"), "ui", "--home", str(home), "--port", str(port)],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        group = int(_wait_for(out, r"process group (\d+)", proc, 60).group(1))
        login = _wait_for(out, r"login: +(\w+) / (\S+)", proc, 400)
        url = _wait_for(out, r"Airflow UI: +(http://\S+)", proc, 5).group(1)
        assert url == f"http://127.0.0.1:{port}"
        token = httpx.post(
            f"{url}/auth/token", json={"username": login.group(1), "password": login.group(2)}, timeout=30
        )
        assert token.status_code in (200, 201), token.text
        client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token.json()['access_token']}"})
        yield home, client, proc, out
    finally:
        proc.send_signal(signal.SIGTERM)  # the ui stops standalone's process group
        try:
            proc.wait(90)
        except subprocess.TimeoutExpired:
            proc.kill()
        with contextlib.suppress(ProcessLookupError, NameError):
            os.killpg(group, signal.SIGKILL)  # backstop: nothing left behind


def _dags(client: httpx.Client) -> dict[str, dict]:
    deadline = time.monotonic() + 120
    while True:
        resp = client.get("/api/v2/dags", params={"limit": 500})
        assert resp.status_code == 200, resp.text
        dags = {d["dag_id"]: d for d in resp.json()["dags"]}
        if f"{MODEL}__score" in dags or time.monotonic() > deadline:
            return dags
        time.sleep(3)


@pytest.mark.slow
def test_ui_shows_the_demo_world_and_runs_a_triggered_dag(ui):
    home, client, proc, out = ui
    dags = _dags(client)
    specs = {p.stem for p in (PROJECT / "dags").glob("*.yaml")}
    assert {f"{MODEL}__train", f"{MODEL}__score", f"{MODEL}__monitor"} <= set(dags), sorted(dags)
    assert all(dag_id.split("__")[0] in specs for dag_id in dags), sorted(dags)  # no Airflow example DAGs
    assert not [d for d in dags.values() if "example" in {t["name"] for t in d.get("tags") or []}]
    # the demo's runs (made by `airflow dags test`) are there, successful
    for kind in ("train", "score", "monitor"):
        runs = client.get(f"/api/v2/dags/{MODEL}__{kind}/dagRuns").json()
        assert runs["total_entries"] >= 1 and {r["state"] for r in runs["dag_runs"]} == {"success"}, runs
    # a trigger runs in this Airflow's own processes: the champion comes from the demo's MLflow, the scores go
    # to the demo's scores.db (the caller's AIRFLOW_MLOPS_HOME and MLFLOW_TRACKING_URI pointed elsewhere)
    dag_id = f"{MODEL}__score"
    assert client.patch(f"/api/v2/dags/{dag_id}", json={"is_paused": False}).status_code == 200
    run = client.post(f"/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": {}})
    assert run.status_code == 200, run.text
    run_id = run.json()["dag_run_id"]
    deadline, state = time.monotonic() + 300, None
    while time.monotonic() < deadline and state not in ("success", "failed"):
        time.sleep(3)
        state = client.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}").json()["state"]
    assert state == "success", f"{state}\n{(home / 'logs' / 'ui.log').read_text(errors='replace')[-4000:]}"
    with contextlib.closing(sqlite3.connect(home / "scores.db")) as db:
        rows = db.execute(f'SELECT COUNT(*) FROM "{MODEL}_scores" WHERE dag_run_id = ?', (run_id,)).fetchone()[0]
    assert rows > 0 and not (home / "elsewhere").exists()
    # Ctrl-C (here SIGTERM) stops Airflow and everything it started
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(90) == 0
    assert "stopping Airflow" in out.read_text()
    group = int(re.search(r"process group (\d+)", out.read_text()).group(1))
    with pytest.raises(ProcessLookupError):
        os.killpg(group, 0)
