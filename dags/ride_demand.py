"""Airflow DAG file for the model spec ride_demand.yaml (written by `airflow-mlops stub`; do not edit).

A broken spec shows up as this file's import error in Airflow; the other specs' DAGs still load.
"""

# Named here so that Airflow's DAG processor imports them once, before it forks a process per DAG file
# (the factory's TriggerDagRunOperator; serializing it imports the sensor module).
import airflow.providers.standard.operators.trigger_dagrun as _trigger_dagrun  # noqa: F401
import airflow.providers.standard.sensors.external_task as _external_task  # noqa: F401

from airflow_mlops.factory import dags_from_spec

globals().update(dags_from_spec(__file__))
