"""OpenLineage: the operators name their input and output datasets through the OpenLineage provider.

The slow tests run the spec's train and score DAGs under ``airflow dags test`` with the provider's file
transport and read the events it wrote; with OpenLineage unconfigured (every user has the provider now)
the same run writes nothing and logs nothing about it. The fast tests pin the dataset names per operator.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from airflow_mlops.lineage import Ref, lineage_of, mlflow_namespace, note_lineage, operator_lineage
from airflow_mlops.operators.features import FeastMaterializeOperator
from airflow_mlops.operators.score import BatchScoreOperator
from airflow_mlops.operators.train import MLflowTrainOperator

from .conftest import PROJECT, airflow_env

SPEC = str(PROJECT / "dags" / "ride_demand.yaml")
DIGEST = "ab" * 32


def _events(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _complete(events: list[dict], dag_id: str, task_id: str) -> dict:
    (event,) = [e for e in events if e["eventType"] == "COMPLETE" and e["job"]["name"] == f"{dag_id}.{task_id}"]
    return event


def _names(datasets: list[dict]) -> set[tuple[str, str]]:
    return {(d["namespace"], d["name"]) for d in datasets}


def test_materialize_names_the_feast_views_the_label_source_and_the_dataset_with_its_digest(tmp_path):
    op = FeastMaterializeOperator(task_id="m", purpose="train", spec_path=SPEC)
    inputs, outputs = lineage_of(op, {"dataset": str(tmp_path / f"{DIGEST}.parquet"), "digest": DIGEST})
    assert Ref("feast://airflow_mlops", "zone_hourly") in inputs  # project of configs/feature_repo
    assert any(r.namespace == "file" and r.name.endswith("/ride_demand_labels.parquet") for r in inputs)
    assert outputs == [Ref("file", str(tmp_path / f"{DIGEST}.parquet"), DIGEST)]


def test_train_and_score_name_the_model_version_and_the_scores_table(tmp_path, monkeypatch):
    db = tmp_path / "scores.db"
    monkeypatch.setenv("AIRFLOW_CONN_SCORES_DB", json.dumps({"conn_type": "sqlite", "host": str(db)}))
    monkeypatch.setenv("AIRFLOW_CONN_MLFLOW_DEFAULT", json.dumps({"conn_type": "http", "host": "http://u:pw@mlf:5000"}))
    train = MLflowTrainOperator(task_id="t", spec_path=SPEC, dataset="d", digest="x")
    inputs, outputs = lineage_of(train, {"dataset": "/data/a.parquet", "digest": DIGEST, "model_version": "7"})
    assert inputs == [Ref("file", "/data/a.parquet", DIGEST)]
    assert [(r.name, "pw" in r.namespace) for r in outputs] == [("ride_demand/versions/7", False)]
    score = BatchScoreOperator(task_id="s", spec_path=SPEC, dataset="d", digest=DIGEST, scores_conn_id="scores_db")
    result = {"dataset": "/data/s.parquet", "model_version": "7", "shadow": {"model_version": "8"}}
    inputs, outputs = lineage_of(score, {**result, "conn_id": "scores_db", "table": "ride_demand_scores"})
    assert {r.name for r in inputs} == {"/data/s.parquet", "ride_demand/versions/7", "ride_demand/versions/8"}
    assert outputs == [Ref(f"sqlite://{db}", "ride_demand_scores")]


def test_mlflow_namespace_drops_credentials():
    assert mlflow_namespace("https://user:secret@mlflow.example.com:8443/x") == "mlflow://mlflow.example.com:8443"
    assert mlflow_namespace("sqlite:////home/m/mlflow.db") == "mlflow:///home/m/mlflow.db"


def test_lineage_is_noted_only_when_openlineage_is_configured(tmp_path, monkeypatch):
    # (the provider caches its configuration, except under pytest)
    op = FeastMaterializeOperator(task_id="m", purpose="score", spec_path=SPEC)
    result = {"dataset": str(tmp_path / "d.parquet"), "digest": DIGEST}
    assert getattr(FeastMaterializeOperator.execute, "_notes_lineage", False)  # execute is wrapped, body untouched
    for var in [k for k in os.environ if k.startswith(("OPENLINEAGE", "AIRFLOW__OPENLINEAGE"))]:
        monkeypatch.delenv(var)
    assert note_lineage(op, result) is None  # unconfigured: nothing computed, nothing looked up
    monkeypatch.setenv("AIRFLOW__OPENLINEAGE__TRANSPORT", json.dumps({"type": "console"}))
    inputs, outputs = note_lineage(op, result)
    assert outputs == [Ref("file", str(tmp_path / "d.parquet"), DIGEST)]
    assert note_lineage(op, {"digest": DIGEST}) is None  # a result it cannot read: logged, the task goes on
    lineage = operator_lineage((inputs, outputs))
    assert [(d.namespace, d.name, d.facets["version"].datasetVersion) for d in lineage.outputs] == [
        ("file", str(tmp_path / "d.parquet"), DIGEST)
    ]
    assert operator_lineage(None).inputs == []


def test_unknown_results_give_no_lineage():
    op = FeastMaterializeOperator(task_id="m", purpose="train", spec_path=SPEC)
    assert lineage_of(op, None) == ([], []) and lineage_of(op, "text") == ([], [])


def test_the_parse_path_does_not_import_openlineage(tmp_path):
    # Airflow's own standard operators import the provider's compat helpers: only what we add counts.
    code = (
        "import sys, airflow.sdk, airflow.providers.standard.operators.python,"
        " airflow.providers.standard.operators.trigger_dagrun\n"
        "before = set(sys.modules)\n"
        "from airflow_mlops.factory import dags_from_spec\n"
        f"dags_from_spec({str(PROJECT / 'dags' / 'ride_demand.py')!r})\n"
        "print(sorted(m for m in set(sys.modules) - before if 'openlineage' in m))"
    )
    env = airflow_env(tmp_path)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]", out.stdout


@pytest.mark.slow
def test_dag_runs_emit_lineage_with_file_transport_and_stay_quiet_without(demo_home, tmp_path):
    from airflow_mlops.cli.demo import dags_test

    home, env = demo_home
    events_file = tmp_path / "events.jsonl"
    transport = json.dumps({"type": "file", "log_file_path": str(events_file), "append": True})
    on = {**env, "AIRFLOW__OPENLINEAGE__TRANSPORT": transport, "AIRFLOW__OPENLINEAGE__NAMESPACE": "mlops-test"}
    for dag_id in ("ride_demand__train", "ride_demand__score"):
        ok, log = dags_test(dag_id, on, tmp_path, suffix="ol")
        assert ok, log.read_text(errors="replace")[-4000:]
    events = _events(events_file)

    materialize = _complete(events, "ride_demand__train", "materialize")
    assert ("feast://airflow_mlops", "zone_hourly") in _names(materialize["inputs"])
    (dataset,) = materialize["outputs"]
    digest = dataset["facets"]["version"]["datasetVersion"]
    assert re.fullmatch(r"[0-9a-f]{64}", digest) and dataset["name"].endswith(f"{digest}.parquet")

    validate = _complete(events, "ride_demand__train", "validate")
    assert ("file", dataset["name"]) in _names(validate["inputs"])
    train = _complete(events, "ride_demand__train", "train")
    assert _names(train["inputs"]) == _names(validate["outputs"][:1])
    (model,) = train["outputs"]
    assert model["namespace"] == f"mlflow://{home / 'mlflow' / 'mlflow.db'}"
    assert re.fullmatch(r"ride_demand/versions/\d+", model["name"])

    score = _complete(events, "ride_demand__score", "score")
    assert (f"sqlite://{(home / 'scores.db').resolve()}", "ride_demand_scores") in _names(score["outputs"])
    assert any(i["name"].startswith("ride_demand/versions/") for i in score["inputs"])

    # OpenLineage unconfigured (the default for everyone who has the provider): no events, no log lines about it
    quiet = tmp_path / "quiet"
    quiet.mkdir()
    ok, log = dags_test("ride_demand__score", env, quiet)
    text = log.read_text(errors="replace")
    assert ok, text[-4000:]
    assert not [line for line in text.splitlines() if "openlineage" in line.lower()]
    assert list(quiet.iterdir()) == [log]
