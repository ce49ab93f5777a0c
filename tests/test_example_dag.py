"""The hand-written example DAG (include/example_dags) runs under `airflow dags test`: the operators stand alone."""

from __future__ import annotations

import ast

import pytest

from airflow_mlops.cli.demo import dags_test

from .conftest import PROJECT

EXAMPLE = PROJECT / "include" / "example_dags" / "ride_demand_by_hand.py"


def test_example_wires_inputs_with_xcomargs_not_a_spec_factory():
    text = EXAMPLE.read_text()
    assert "airflow_mlops.factory" not in text and "xcom_pull" not in text
    calls = [n for n in ast.walk(ast.parse(text)) if isinstance(n, ast.Subscript)]
    assert any(ast.unparse(n) == "check.output['dataset']" for n in calls)


def test_example_dag_shape():
    dag = _load()
    upstream = {t.task_id: sorted(t.upstream_task_ids) for t in dag.tasks}
    assert upstream["check"] == ["features"] and upstream["fit"] == ["check"]
    assert upstream["gate"] == ["check", "compare"] and upstream["compare"] == ["fit"]


def _load():
    import runpy

    from airflow.sdk import DAG

    (dag,) = [v for v in runpy.run_path(str(EXAMPLE)).values() if isinstance(v, DAG)]
    return dag


@pytest.mark.slow
def test_example_dag_trains_and_gates_a_version(demo_home):
    from mlflow.tracking import MlflowClient

    home, env = demo_home
    env = {**env, "AIRFLOW__CORE__DAGS_FOLDER": str(EXAMPLE.parent)}
    ok, log = dags_test("ride_demand_by_hand", env, home / "logs")
    text = log.read_text(errors="replace")
    assert ok, text[-4000:]
    uri = f"sqlite:///{home / 'mlflow' / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    runs = [
        v
        for v in client.search_model_versions("name='ride_demand'")
        if client.get_run(v.run_id).data.tags.get("mlops.dag_id") == "ride_demand_by_hand"
    ]
    assert runs, "the example's fit task registered a version"
    run = client.get_run(runs[-1].run_id)
    assert "fresh/mae" in run.data.metrics, "the compare task scored it on the fresh window"
    assert "mlops.gate.result" in client.get_model_version("ride_demand", runs[-1].version).tags
