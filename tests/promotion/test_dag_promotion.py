"""Promotion and rollback through real Airflow (`airflow dags test`): the rules decide who serves.

One story on the ride_demand example: v1 passes the rules and becomes champion; a challenger that fails
a rule leaves the champion alias untouched; one that passes becomes champion; the rollback DAG restores
the previous version and the next scoring run uses it.
"""

from __future__ import annotations

import shutil
import sqlite3
from contextlib import closing

import pytest

from airflow_mlops.cli.demo import dags_test, prepare
from airflow_mlops.factory import write_stubs

from ..conftest import PROJECT, airflow_env

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]
RULE = 'when: metrics["mae"] <= 8'
IMPOSSIBLE_RULE = 'when: metrics["mae"] <= 0.01'


def _champion(client) -> str:
    return str(client.get_model_version_by_alias("ride_demand", "champion").version)


def _run(dag_id: str, env: dict, home, conf: dict | None = None) -> None:
    ok, log = dags_test(dag_id, env, home / "logs", conf, suffix=str(len(list((home / "logs").glob("*")))))
    assert ok, log.read_text(errors="replace")[-4000:]


def _latest_scored_version(home) -> str:
    with closing(sqlite3.connect(home / "scores.db")) as db:
        (version,) = db.execute(
            "SELECT model_version FROM mlops_score_runs WHERE model_name = 'ride_demand' AND role = 'champion' "
            "ORDER BY scored_at DESC LIMIT 1"
        ).fetchone()
        rows = db.execute(
            "SELECT COUNT(*), COUNT(DISTINCT model_version) FROM ride_demand_scores WHERE role = 'champion' "
            "AND logical_date = (SELECT MAX(logical_date) FROM mlops_score_runs WHERE model_name = 'ride_demand')"
        ).fetchone()
    assert rows[0] > 0 and rows[1] == 1
    return str(version)


def test_rules_gate_promotion_and_rollback_restores_the_previous_champion(tmp_path):
    from mlflow.tracking import MlflowClient

    dags = tmp_path / "dags"
    dags.mkdir()
    spec = dags / "ride_demand.yaml"
    text = (PROJECT / "dags" / "ride_demand.yaml").read_text()
    assert RULE in text, "the example's selection rule changed: update this test"
    shutil.copy(PROJECT / "dags" / "ride_demand.yaml", spec)
    write_stubs(dags)
    home = tmp_path / "home"
    env = airflow_env(home, dags)
    prepare(home, PROJECT, env)
    uri = f"sqlite:///{home / 'mlflow' / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)  # registry too: an earlier test may have set a global one

    _run("ride_demand__train", env, home, {"reason": "manual"})
    assert _champion(client) == "1"

    spec.write_text(text.replace(RULE, IMPOSSIBLE_RULE))  # the next challenger fails its selection rule
    _run("ride_demand__train", env, home, {"reason": "manual"})
    assert str(client.get_model_version_by_alias("ride_demand", "challenger").version) == "2"
    assert _champion(client) == "1", "a challenger failing a rule must leave the champion untouched"
    tags = client.get_model_version("ride_demand", "2").tags
    assert tags.get("mlops.gate.result") and "mae" in tags.get("mlops.gate.reason", "")

    spec.write_text(text)  # the rule holds again: the newest passing version wins
    _run("ride_demand__train", env, home, {"reason": "manual"})
    assert _champion(client) == "3"

    # A conf-supplied actor is ignored: the history names the user Airflow says triggered the run
    # (`airflow dags test` sets triggering_user_name "dag_test"; the REST API sets the caller's login).
    conf = {"version": 1, "reason": " test: bias complaint ", "who": "mallory", "actor": "mallory"}
    _run("ride_demand__rollback", env, home, conf)
    assert _champion(client) == "1"
    from airflow_mlops.promotion.history import AliasHistory

    last = AliasHistory(f"sqlite:///{home / 'promotion' / 'history.db'}").events("ride_demand")[-1]
    assert (last["action"], last["status"], last["version"]) == ("rollback", "applied", "1"), last
    assert (last["who"], last["reason"]) == ("dag_test", "test: bias complaint"), last
    assert last["dag_id"] == "ride_demand__rollback", last
    _run("ride_demand__score", env, home)
    assert _latest_scored_version(home) == "1", "scoring after a rollback uses the restored version"
