"""The alias history agrees with MLflow: intent rows, errors after MLflow applied a move, kills, reconcile, audit."""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
import sys

import pytest

from airflow_mlops.promotion.gate import GateContext, PromotionError, run_gate
from airflow_mlops.promotion.history import AliasHistory
from airflow_mlops.promotion.rollback import RollbackFailed, rollback
from airflow_mlops.promotion.rulesets import rules_for

from .conftest import PROJECT, evaluation, hook_for, register

GOOD = {"mae": 4.0, "bias": 0.1}
SECRET = "tracking-pw-123"


class FlakyClient:
    """An MlflowClient whose alias moves misbehave (a slow or dying tracking server cannot be had here).

    ``after``: MLflow applies the move, then the call times out. ``before``: it fails without applying.
    ``blackout``: it fails and the registry cannot be read either.
    """

    def __init__(self, client, mode: str) -> None:
        self.client, self.mode = client, mode

    def __getattr__(self, name):
        return getattr(self.client, name)

    def set_registered_model_alias(self, name, alias, version):
        if self.mode == "after":
            self.client.set_registered_model_alias(name, alias, version)
        if self.mode == "blackout":
            self.get_registered_model = self._down
        raise TimeoutError(f"read timed out: http://ops:{SECRET}@mlflow:5000/api/2.0/mlflow/registered-models/alias")

    def _down(self, name):
        raise ConnectionError("mlflow:5000 refused the connection")


def rows(history, model="ride_demand"):
    return [(e["action"], e["status"], e["version"], e["previous_version"], e["who"]) for e in history.events(model)]


def test_error_after_mlflow_applied_is_recorded_as_applied(store):
    client, _uri = store
    v1, v2 = register("ride_demand", GOOD), register("ride_demand", GOOD)
    history = AliasHistory(hook=hook_for(client))
    history.move("ride_demand", "champion", v1, action="promote", who="t")
    flaky = AliasHistory(hook=hook_for(FlakyClient(client, "after")))
    move = flaky.move("ride_demand", "champion", v2, action="promote")
    assert move.status == "applied" and "TimeoutError" in move.detail and SECRET not in move.detail
    assert history.current("ride_demand", "champion") == v2
    assert rows(history)[-1] == ("promote", "applied", v2, v1, None)
    assert SECRET not in history.events("ride_demand")[-1]["details"]

    # Neither the move nor a re-read answers: the intent stays pending, the caller is told.
    blackout = AliasHistory(hook=hook_for(FlakyClient(client, "blackout")))
    move = blackout.move("ride_demand", "champion", v1, action="promote")
    assert move.status == "pending" and "reconcile" in move.detail
    assert rows(history)[-1][:3] == ("promote", "pending", v1)
    changes = history.reconcile("ride_demand")
    assert [(c["status"], c["version"]) for c in changes] == [("failed", v1)]


@pytest.mark.slow
def test_failed_move_fails_the_gate_and_the_rollback(store, sample, spec):
    client, _uri = store
    history = AliasHistory(hook=hook_for(client))
    v1 = register("ride_demand", GOOD)
    history.move("ride_demand", "champion", v1, action="promote")
    v2 = register("ride_demand", {"mae": 4.5, "bias": 0.1})
    flaky = FlakyClient(client, "before")
    ctx = GateContext(hook=hook_for(flaky), history=AliasHistory(hook=hook_for(flaky)), sample=sample,
                      dag_id="ride_demand__train", dag_run_id="manual__1", who="test")  # fmt: skip
    with pytest.raises(PromotionError, match="champion: failed TimeoutError") as caught:
        run_gate(spec, rules_for(spec, lambda rel: PROJECT / rel), evaluation((v2, GOOD), (v1, GOOD)), ctx)
    assert SECRET not in str(caught.value)
    assert history.current("ride_demand", "champion") == v1
    assert rows(history)[-1] == ("promote", "failed", v2, v1, "test")
    with pytest.raises(RollbackFailed, match="failed"):
        rollback(hook_for(flaky), "ride_demand", v2, "try", who="ana", sample=sample,
                 history=AliasHistory(hook=hook_for(flaky)))  # fmt: skip
    assert rows(history)[-1] == ("rollback", "failed", v2, v1, "ana")
    assert history.current("ride_demand", "champion") == v1


KILLED = """
import os, signal, sys
from mlflow.tracking import MlflowClient
from airflow_mlops.promotion.history import AliasHistory
from tests.promotion.conftest import hook_for
uri, version, when = sys.argv[1:4]

class Dies(MlflowClient):
    def set_registered_model_alias(self, name, alias, version):
        if when == "after":
            super().set_registered_model_alias(name, alias, version)
        os.kill(os.getpid(), signal.SIGKILL)

history = AliasHistory(hook=hook_for(Dies(tracking_uri=uri, registry_uri=uri)))
history.move("ride_demand", "champion", version, action="promote")
"""


def _killed_move(uri: str, version: str, when: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    proc = subprocess.run([sys.executable, "-c", KILLED, uri, version, when], env=env, capture_output=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    cmd = [sys.executable, "-m", "airflow_mlops.cli.main", *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)


def _matches_mlflow(history: AliasHistory) -> None:
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    for alias, version in history.aliases("ride_demand").items():
        assert (history.serving_at("ride_demand", now, alias) or {}).get("version") == version, alias
    assert not [e for e in history.events("ride_demand") if e["status"] == "pending"]


def test_sigkill_between_mlflow_move_and_history_write_is_reconciled(store):
    client, uri = store
    history = AliasHistory(hook=hook_for(client))
    v1, v2, v3 = (register("ride_demand", GOOD) for _ in range(3))
    history.move("ride_demand", "champion", v1, action="promote")

    _killed_move(uri, v2, "after")  # MLflow moved, the process died before resolving its row
    assert history.current("ride_demand", "champion") == v2
    assert rows(history)[-1][:3] == ("promote", "pending", v2)
    _killed_move(uri, v3, "before")  # died before MLflow moved
    assert history.current("ride_demand", "champion") == v2
    assert rows(history)[-1][:3] == ("promote", "pending", v3)

    out = _cli("history", "ride_demand", "--reconcile")  # MLFLOW_TRACKING_URI names the store
    assert out.returncode == 0, out.stderr[-3000:]
    assert "history matches MLflow (2 changes)" in out.stdout, out.stdout
    assert [r[:3] for r in rows(history)] == [
        ("promote", "applied", v1), ("promote", "applied", v2), ("promote", "failed", v3),
    ]  # fmt: skip
    _matches_mlflow(history)

    # A move made behind the history's back (MLflow UI, another tool) gets a row by "reconcile".
    client.set_registered_model_alias("ride_demand", "champion", v1)
    client.set_registered_model_alias("ride_demand", "challenger", v3)
    changes = history.reconcile("ride_demand")
    assert sorted((c["alias"], c["version"]) for c in changes) == [("challenger", v3), ("champion", v1)]
    assert rows(history)[-2:] == [
        ("reconcile", "applied", v3, None, "reconcile"), ("reconcile", "applied", v1, v2, "reconcile"),
    ]  # fmt: skip
    _matches_mlflow(history)
    assert history.reconcile("ride_demand") == []  # idempotent


def test_cli_rollback_requires_a_reason_a_valid_alias_and_records_the_os_user(store, sample, monkeypatch):
    client, _uri = store
    history = AliasHistory(hook=hook_for(client))
    v1, v2 = register("ride_demand", GOOD), register("ride_demand", GOOD)
    history.move("ride_demand", "champion", v2, action="promote")
    before = len(history.events("ride_demand"))
    for extra, message in (
        (["--reason", "   "], "a reason is required"),
        (["--reason", ""], "a reason is required"),
        (["--reason", "ok", "--alias", "Champion; DROP"], "not a valid alias"),
        (["--reason", "ok", "--alias", ""], "not a valid alias"),
    ):
        out = _cli("rollback", "ride_demand", "--to-version", v1, *extra)
        assert out.returncode == 2 and message in out.stderr, (extra, out.stderr[-2000:])
    assert len(history.events("ride_demand")) == before and history.current("ride_demand", "champion") == v2

    monkeypatch.setenv("USER", "mallory")  # a self-asserted name must not become the actor
    monkeypatch.setenv("LOGNAME", "mallory")
    reason = ["--reason", "  bias complaint "]
    out = _cli("rollback", "ride_demand", "--to-version", v1, *reason, "--sample", str(sample))
    assert out.returncode == 0, out.stderr[-3000:]
    last = history.events("ride_demand")[-1]
    assert (last["action"], last["status"], last["version"]) == ("rollback", "applied", v1)
    assert last["who"] == f"{pwd.getpwuid(os.getuid()).pw_name} via cli" and last["reason"] == "bias complaint"


class Interrupted(FlakyClient):
    """MLflow applies the move, then the worker is interrupted (a BaseException nothing should swallow)."""

    def set_registered_model_alias(self, name, alias, version):
        self.client.set_registered_model_alias(name, alias, version)
        raise KeyboardInterrupt


def test_reconcile_resolves_a_chain_of_pending_moves_in_order(store):
    client, _uri = store
    history = AliasHistory(hook=hook_for(client))
    v1, v2, v3 = (register("ride_demand", GOOD) for _ in range(3))
    history.move("ride_demand", "champion", v1, action="promote")
    dying = AliasHistory(hook=hook_for(Interrupted(client, "after")))
    for version in (v2, v3):
        with pytest.raises(KeyboardInterrupt):
            dying.move("ride_demand", "champion", version, action="promote")
    assert [r[:4] for r in rows(history)][1:] == [("promote", "pending", v2, v1), ("promote", "pending", v3, v2)]
    between = history.events("ride_demand")[2]["at"]
    changes = history.reconcile("ride_demand")
    assert [(c["status"], c["version"]) for c in changes] == [("applied", v2), ("applied", v3)]
    from datetime import datetime, timedelta

    just_before = datetime.fromisoformat(between) - timedelta(microseconds=1)  # v3's intent row was written
    assert history.serving_at("ride_demand", just_before)["version"] == v2
    _matches_mlflow(history)

    # A registry that does not know the model is the wrong registry: nothing is rewritten.
    with pytest.raises(LookupError, match="does not know model 'ride_demand'"):
        _other_registry(history)
    assert [r[1] for r in rows(history)] == ["applied"] * 3


def _other_registry(history: AliasHistory) -> None:
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST

    class Empty:
        def get_registered_model(self, name):
            raise MlflowException(f"Registered Model with name={name} not found", error_code=RESOURCE_DOES_NOT_EXIST)

    AliasHistory(history.uri, hook=hook_for(Empty())).reconcile("ride_demand")


def test_on_postgresql_a_killed_move_releases_its_lock_and_is_reconciled(store, pg, monkeypatch):
    """The session-level advisory lock dies with the killed process; the next move does not wait for it."""
    import time

    client, uri = store
    history_uri = pg.dsn.replace("postgresql://", "postgresql+psycopg://")
    monkeypatch.setenv("AIRFLOW_MLOPS_HISTORY_URI", history_uri)  # the killed child inherits it
    history = AliasHistory(history_uri, hook=hook_for(client))
    known = len(history.events("ride_demand"))
    v1, v2 = register("ride_demand", GOOD), register("ride_demand", GOOD)
    _killed_move(uri, v1, "after")
    assert rows(history)[known:] == [("promote", "pending", v1, None, None)]
    started = time.monotonic()
    assert history.move("ride_demand", "champion", v2, action="promote").applied
    assert time.monotonic() - started < 10
    changes = history.reconcile("ride_demand")
    assert [(c["status"], c["version"]) for c in changes] == [("applied", v1)]
    _matches_mlflow(history)
