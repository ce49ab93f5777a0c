"""The example models end to end on the distributed stack, driven over the REST API like an operator would.

Both models at once: train → score → drifted data arrives → score → monitor (Evidently sees the drift) → the
monitor's ``trigger_train`` starts a retrain (drift is due; the run names the first due reason) → promotion on
fresh data (champion and challenger on the same fresh rows) → when the challenger wins, the train DAG's
``refresh_scores`` rescores with the new champion. Inputs live only in services, as in docker-compose.yaml: the
Feast sources are tables of the ``feast`` database (feature_store.deploy.yaml: SQL registry, PostgreSQL online
and offline stores), the label sources objects below ``[mlops] storage_url``/data.
The task-instance records show which worker ran each task; each worker's own MLOps home holds nothing durable
afterwards (only the rule-check cache's empty markers).
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

from airflow_mlops.spec import load_spec

from .cluster import Cluster, files_under
from .compose import PROJECT
from .plan import WORKERS

pytestmark = [pytest.mark.distributed, pytest.mark.timeout(2400)]
MODELS = ("ride_demand", "rider_churn")
FEATURE_TABLES = {"ride_demand": "zone_hourly", "rider_churn": "rider_activity"}


def seed_inputs(cluster: Cluster, folder: Path, drift: bool, end: datetime) -> None:
    """What upstream pipelines deliver: feature tables in the feast database, label files in object storage.

    The data ends in the day before ``end`` (ride_demand's last hour, rider_churn's last weekly snapshot), the
    interval a daily score run at ``end`` scores.
    """
    import boto3
    import pandas as pd
    from sqlalchemy import create_engine

    from include.datagen import Defects, write_example_data

    written = write_example_data(folder, end=end - timedelta(hours=1), defects=Defects(drift=drift))
    env = cluster.processes["worker-1"].env
    url = (
        f"postgresql+psycopg://{env['FEAST_PG_USER']}:{env['FEAST_PG_PASSWORD']}@{env['FEAST_PG_HOST']}:"
        f"{env['FEAST_PG_PORT']}/{env['FEAST_PG_DATABASE']}"
    )
    engine = create_engine(url)
    try:
        for model, table in FEATURE_TABLES.items():
            frame = pd.read_parquet(written[f"{model}_features"])
            frame.to_sql(table, engine, if_exists="replace", index=False, chunksize=10_000)
    finally:
        engine.dispose()
    storage = urlsplit(env["AIRFLOW__MLOPS__STORAGE_URL"])
    s3 = boto3.client("s3", endpoint_url=cluster.s3_endpoint, region_name="us-east-1", aws_access_key_id="x",
                      aws_secret_access_key="x")  # fmt: skip
    for model in MODELS:
        source = written[f"{model}_labels"]
        s3.upload_file(str(source), storage.hostname, f"{storage.path.strip('/')}/data/{source.name}")


def run_all(
    cluster: Cluster, dag_ids: list[str], conf: dict | None = None, at: datetime | None = None, timeout: float = 900
) -> dict[str, str]:
    """Trigger one run of each DAG at once (logical date ``at``), wait for all; {dag_id: run_id}."""
    runs = {dag_id: cluster.trigger(dag_id, conf, at.isoformat() if at else None) for dag_id in dag_ids}
    deadline = time.monotonic() + timeout
    for dag_id, run_id in runs.items():
        cluster.wait_for_run(dag_id, run_id, timeout=max(60.0, deadline - time.monotonic()))
    return runs


def runs_of(cluster: Cluster, dag_id: str) -> list[dict]:
    with cluster.api() as api:
        resp = api.get(f"/dags/{dag_id}/dagRuns", params={"order_by": "run_after", "limit": 100})
        return resp.raise_for_status().json()["dag_runs"]


def wait_for_triggered_run(cluster: Cluster, dag_id: str, conf: dict, timeout: float = 300) -> dict:
    """The one run of ``dag_id`` that another DAG triggered with ``conf`` (subset), once it has succeeded."""
    deadline = time.monotonic() + timeout
    while not (found := [r for r in runs_of(cluster, dag_id) if conf.items() <= (r.get("conf") or {}).items()]):
        if time.monotonic() > deadline:
            raise TimeoutError(f"no run of {dag_id} with conf {conf} after {timeout:.0f}s")
        time.sleep(3)
    assert len(found) == 1, [(r["dag_run_id"], r["conf"]) for r in found]
    cluster.wait_for_run(dag_id, found[0]["dag_run_id"], timeout=900)
    return found[0]


def test_two_models_train_score_drift_retrain_promote_rescore(cluster, tmp_path):
    specs = {m: load_spec(PROJECT / "dags" / f"{m}.yaml") for m in MODELS}
    dag_ids = {kind: [s.dag_ids[kind] for s in specs.values()] for kind in ("train", "score", "monitor")}
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)  # score runs score the day before
    seed_inputs(cluster, tmp_path / "inputs", drift=False, end=today)
    ran = [run_all(cluster, dag_ids["train"], {"reason": "manual", "note": "distributed test"})]
    for train, run_id in ran[0].items():
        first = cluster.xcom(train, run_id, "promote")
        assert first["promoted"] and first["version"] == "1", (train, first["decision"])
    ran.append(run_all(cluster, dag_ids["score"], at=today))

    seed_inputs(cluster, tmp_path / "drifted", drift=True, end=today)  # production shifts: the day is restated
    for dag_id, run_id in ran[1].items():  # the operator re-runs the day's score runs (clear), as after a restatement
        cluster.clear(dag_id, run_id)
    for dag_id, run_id in ran[1].items():
        cluster.wait_for_run(dag_id, run_id, timeout=900)
    monitors = run_all(cluster, dag_ids["monitor"])
    ran.append(monitors)
    promoted = []
    for model, spec in specs.items():
        monitor = spec.dag_ids["monitor"]
        decision = cluster.xcom(monitor, monitors[monitor], "decide_retrain")
        assert "drift" in decision["reasons"], (model, decision)  # the run's reason may be another one due
        train, score = spec.dag_ids["train"], spec.dag_ids["score"]
        retrain = wait_for_triggered_run(cluster, train, {"reason": decision["reason"]})
        gate = cluster.xcom(train, retrain["dag_run_id"], "promote")
        compared = gate["decision"]["candidates"]
        assert {"1", "2"} <= set(compared), (model, compared)  # champion and challenger, on the same fresh data
        assert {compared[v]["metrics_source"] for v in ("1", "2")} == {"fresh"}, (model, compared)
        ran.append({train: retrain["dag_run_id"]})
        print(f"\n{model}: retrain ({decision['reason']}) → promoted={gate['promoted']}, version {gate['version']}")
        if gate["promoted"]:
            assert gate["version"] == "2", (model, gate["decision"])
            # refresh_scores: the new champion rescores at once (the first train's refresh ran with version "1")
            rescore = wait_for_triggered_run(cluster, score, {"reason": "promotion", "version": "2"})
            ran.append({score: rescore["dag_run_id"]})
            promoted.append(model)
        dsn = cluster.dsn("scores_db")
        with psycopg.connect(dsn) as db:
            versions = db.execute(
                f'SELECT model_version, count(*) FROM "{spec.scoring.destination.table}" GROUP BY 1 ORDER BY 1'
            ).fetchall()
        # every run scored the same day: its rows are the champion's, v2 after a promotion, else still v1
        assert [v for v, _ in versions] == ["2" if gate["promoted"] else "1"], (model, versions)
    # Whether a challenger wins depends on the rows its training window holds (weekly, so on the weekday): ride_demand's
    # retrain lands near its rule's `mae <= 8` (7.9-8.0 on this data), rider_churn's AUC near its champion's. At least
    # one promotion (and its rescoring) must happen; each model's outcome is checked for consistency above.
    assert promoted, "no retrain was promoted: the promotion → rescoring path was not exercised"

    ran_on = Counter(
        ti["hostname"]
        for runs in ran
        for dag_id, run_id in runs.items()
        for ti in cluster.task_instances(dag_id, run_id)
        if ti["state"] == "success"
    )
    print(f"\ntasks run per worker: {dict(ran_on)}")
    assert set(WORKERS) <= set(ran_on), f"not both workers: {ran_on}"
    for worker in WORKERS:
        home = cluster.processes[worker].env["AIRFLOW_MLOPS_HOME"]
        assert files_under(home) == [], f"{worker} wrote state to its own disk"
