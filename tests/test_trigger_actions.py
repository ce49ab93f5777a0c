"""Promotion rules' trigger_dag actions: the gate only records requests; a mapped TriggerDagRunOperator starts them."""

from __future__ import annotations

from types import SimpleNamespace

from airflow_mlops.factory import dags_from_spec
from airflow_mlops.operators.promotion import TriggerRequests, trigger_requests
from airflow_mlops.promotion.gate import GateContext, _act
from airflow_mlops.spec import load_spec
from airflow_mlops.spec.schema import CallbackAction

from .conftest import PROJECT

SPEC = PROJECT / "dags" / "ride_demand.yaml"


def test_gate_records_requests_with_the_run_id_the_triggered_run_gets():
    spec = load_spec(SPEC)
    requests = TriggerRequests()
    ctx = GateContext(hook=None, history=None, trigger_dag=requests)
    fired = SimpleNamespace(rule_id="r1", values={}, source="spec")
    winner = SimpleNamespace(version="3", attrs={"is_champion": False})
    own = CallbackAction(action="trigger_dag", dag_id="ride_demand__score", conf={"why": "fresh"})
    first, second = (_act(own, fired, winner, spec, ctx, None) for _ in range(2))
    foreign = _act(CallbackAction(action="trigger_dag", dag_id="payroll__run"), fired, winner, spec, ctx, None)
    assert foreign["triggered"] is False
    assert [r["trigger_run_id"] for r in requests.requests] == [first["run_id"], second["run_id"]]
    assert first["run_id"] != second["run_id"]
    assert requests.requests[0] == {
        "trigger_dag_id": "ride_demand__score",
        "trigger_run_id": first["run_id"],
        "conf": {"why": "fresh", "model": "ride_demand", "version": "3"},
    }
    assert trigger_requests(requests.requests) == requests.requests and trigger_requests(None) == []


def test_train_dag_maps_a_trigger_dag_run_operator_over_the_requests():
    from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator

    train = dags_from_spec(PROJECT / "dags" / "ride_demand.py")["ride_demand__train"]
    actions, requests = train.get_task("trigger_actions"), train.get_task("trigger_requests")
    assert actions.is_mapped and actions.operator_class is TriggerDagRunOperator
    assert actions.upstream_task_ids == {"trigger_requests"} and requests.upstream_task_ids == {"promote"}
    # refresh_scores stays behind the short-circuit; rule triggers do not depend on a promotion
    assert train.get_task("refresh_scores").upstream_task_ids == {"if_promoted", "promote"}
