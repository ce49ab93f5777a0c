"""Airflow DAG file for the model spec rider_churn.yaml (written by `airflow-mlops stub`; do not edit).

A broken spec shows up as this file's import error in Airflow; the other specs' DAGs still load.
"""

from airflow_mlops.factory import dags_from_spec

globals().update(dags_from_spec(__file__))
