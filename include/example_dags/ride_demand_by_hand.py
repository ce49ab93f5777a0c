"""A training DAG written by hand with the airflow-mlops operators: no factory, no wiring from YAML.

Each operator's inputs are the previous task's outputs (XComArgs such as ``validate.output["dataset"]``);
the model's settings (features, estimator, rules) come from the example spec named by ``spec_path``.
Point ``AIRFLOW__CORE__DAGS_FOLDER`` at this folder (and ``AIRFLOW_MLOPS_PROJECT`` at the project) to run it:
``airflow dags test ride_demand_by_hand``.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from airflow.providers.standard.operators.python import PythonOperator
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import DAG

from airflow_mlops.operators.evaluate import EvaluateOperator
from airflow_mlops.operators.features import FeastMaterializeOperator
from airflow_mlops.operators.promotion import PromotionGateOperator, trigger_requests
from airflow_mlops.operators.train import MLflowTrainOperator
from airflow_mlops.operators.validate import GXValidateOperator

PROJECT = Path(os.environ.get("AIRFLOW_MLOPS_PROJECT") or Path(__file__).resolve().parents[2])
SPEC = str(PROJECT / "dags" / "ride_demand.yaml")

with DAG(
    dag_id="ride_demand_by_hand",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["airflow-mlops", "example"],
    doc_md=__doc__,
) as dag:
    materialize = FeastMaterializeOperator(task_id="features", purpose="train", spec_path=SPEC)
    check = GXValidateOperator(task_id="check", purpose="train", spec_path=SPEC, dataset=materialize.output["dataset"])
    fit = MLflowTrainOperator(
        task_id="fit",
        spec_path=SPEC,
        dataset=check.output["dataset"],
        digest=check.output["digest"],
        mlflow_conn_id="mlflow_default",
    )
    compare = EvaluateOperator(
        task_id="compare",
        spec_path=SPEC,
        dataset=fit.output["dataset"],
        model_version=fit.output["model_version"],
        run_id=fit.output["run_id"],
    )
    gate = PromotionGateOperator(
        task_id="gate", spec_path=SPEC, evaluation=compare.output, sample=check.output["dataset"]
    )
    # trigger_dag actions of the promotion rules: one TriggerDagRunOperator per request (skipped when none)
    requests = PythonOperator(
        task_id="trigger_requests", python_callable=trigger_requests, op_args=[gate.output["triggers"]]
    )
    TriggerDagRunOperator.partial(task_id="rule_triggers", retries=0).expand_kwargs(requests.output)
