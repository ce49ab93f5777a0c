"""The gate, rollback, history and the race, against a real (temporary) MLflow registry."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from airflow_mlops.promotion.gate import GateContext, run_gate
from airflow_mlops.promotion.history import AliasHistory
from airflow_mlops.promotion.rollback import RollbackError, rollback
from airflow_mlops.promotion.rulesets import rules_for

from .conftest import PROJECT, evaluation, hook_for, register

GOOD = {"mae": 4.0, "bias": 0.1}


def _gate(spec, client, uri, sample, evaluate):
    ctx = GateContext(hook=hook_for(client), history=AliasHistory(hook=hook_for(client)), sample=sample,
                      dag_id="ride_demand__train", dag_run_id="manual__1", who="test")  # fmt: skip
    return run_gate(spec, rules_for(spec, lambda rel: PROJECT / rel), evaluate, ctx)


@pytest.mark.slow
def test_gate_keeps_champion_on_failing_challenger_promotes_passing_one_and_rollback_restores(store, sample, spec):
    client, uri = store
    history = AliasHistory(hook=hook_for(client))
    v1 = register("ride_demand", GOOD)
    assert history.move("ride_demand", "champion", v1, action="promote", reason="bootstrap").applied

    v2 = register("ride_demand", {"mae": 9.0, "bias": 0.1})
    result = _gate(spec, client, uri, sample, evaluation((v2, {"mae": 9.0, "bias": 0.1}), (v1, GOOD)))
    assert result["promoted"] is False and result["version"] is None
    assert history.current("ride_demand", "champion") == v1
    assert "metrics.mae" in result["decision"]["candidates"][v2]["reason"]
    assert client.get_model_version("ride_demand", v2).tags["mlops.gate.result"] == "ineligible"

    v3 = register("ride_demand", {"mae": 4.8, "bias": 0.2})
    result = _gate(spec, client, uri, sample, evaluation((v3, {"mae": 4.8, "bias": 0.2}), (v1, GOOD)))
    assert result["promoted"] is True and result["version"] == v3
    assert history.current("ride_demand", "champion") == v3
    tags = client.get_model_version("ride_demand", v1).tags
    assert tags["mlops.gate.result"] == "lost" and "lost to v3 (challenger)" in tags["mlops.gate.reason"]
    assert json.dumps(result)  # XCom-serializable

    move = rollback(hook_for(client), "ride_demand", v1, "v3 overpredicts airports", who="ana", sample=sample)
    assert move.applied and move.previous_version == v3
    assert history.current("ride_demand", "champion") == v1
    with pytest.raises(RollbackError, match="has no version 42"):
        rollback(hook_for(client), "ride_demand", 42, "typo", sample=sample)
    events = history.events("ride_demand")
    assert [(e["action"], e["status"], e["version"]) for e in events] == [
        ("promote", "applied", v1),
        ("promote", "applied", v3),
        ("rollback", "applied", v1),
        ("rollback", "refused", "42"),
    ]  # fmt: skip
    assert events[2]["who"] == "ana" and events[2]["previous_version"] == v3


@pytest.mark.slow
def test_unservable_challenger_is_never_promoted(store, sample, spec):
    client, uri = store
    history = AliasHistory(hook=hook_for(client))
    v1 = register("ride_demand", GOOD)
    history.move("ride_demand", "champion", v1, action="promote")
    v2 = register("ride_demand", {"mae": 3.0, "bias": 0.0}, broken=True)
    result = _gate(spec, client, uri, sample, evaluation((v2, {"mae": 3.0, "bias": 0.0}), (v1, GOOD)))
    assert result["promoted"] is False and history.current("ride_demand", "champion") == v1
    assert "cannot be served" in result["decision"]["candidates"][v2]["reason"]
    with pytest.raises(RollbackError, match="cannot be served"):
        rollback(hook_for(client), "ride_demand", v2, "try broken", sample=sample)


RACER = """
import sys, time
from pathlib import Path
from mlflow.tracking import MlflowClient
from airflow_mlops.promotion.history import AliasHistory
from tests.promotion.conftest import hook_for
uri, version, expected, go = sys.argv[1:5]
client = MlflowClient(tracking_uri=uri, registry_uri=uri)
history = AliasHistory(hook=hook_for(client))
while not Path(go).exists():
    time.sleep(0.01)
move = history.move("ride_demand", "champion", version, action="promote", expected_previous=expected,
                    dag_run_id=f"run-{version}")
print(move.status)
"""


def test_two_racing_promotions_leave_champion_on_exactly_one(store, tmp_path):
    client, uri = store
    history = AliasHistory(hook=hook_for(client))
    v1, v2, v3 = (register("ride_demand", GOOD) for _ in range(3))
    history.move("ride_demand", "champion", v1, action="promote")
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    procs = [
        subprocess.Popen([sys.executable, "-c", RACER, uri, v, v1, str(go)], env=env, stdout=subprocess.PIPE, text=True)
        for v in (v2, v3)
    ]
    time.sleep(3)  # both processes are waiting at the start line
    go.touch()
    statuses = sorted(p.communicate(timeout=120)[0].strip().splitlines()[-1] for p in procs)
    assert statuses == ["applied", "conflict"]
    events = [e for e in history.events("ride_demand") if e["dag_run_id"]]
    assert len(events) == 2 and {e["status"] for e in events} == {"applied", "conflict"}
    winner = next(e["version"] for e in events if e["status"] == "applied")
    assert history.current("ride_demand", "champion") == winner


def test_cli_history_and_refused_rollback(store, tmp_path, run_cli_env):
    client, _uri = store
    history = AliasHistory(hook=hook_for(client))
    v1, v2 = register("ride_demand", GOOD), register("ride_demand", GOOD)
    history.move("ride_demand", "champion", v1, action="promote", reason="first")
    history.move("ride_demand", "champion", v2, action="promote", reason="second")
    env = run_cli_env
    cli = [sys.executable, "-m", "airflow_mlops.cli.main"]
    out = subprocess.run([*cli, "history", "ride_demand"], env=env,
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "first" in out.stdout and "second" in out.stdout
    first = history.events("ride_demand")[0]["at"]
    out = subprocess.run([*cli, "history", "ride_demand", "--at", first],
                         env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert out.returncode == 0 and f"version {v1}" in out.stdout, out.stdout + out.stderr
    out = subprocess.run([*cli, "history", "ride_demand", "--at", "2000-01-01"],
                         env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert out.returncode == 1 and "no version" in out.stdout
    out = subprocess.run([*cli, "rollback", "ride_demand", "--to-version", "9",
                          "--reason", "oops"], env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert out.returncode == 1 and "has no version 9" in out.stderr
    assert history.current("ride_demand", "champion") == v2


@pytest.fixture
def run_cli_env(tmp_path):
    return {**os.environ, "AIRFLOW_HOME": str(tmp_path / "airflow"), "PYTHONPATH": str(PROJECT)}
