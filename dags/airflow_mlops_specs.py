"""Airflow DAG catch-all for airflow-mlops: builds the DAGs of specs dropped into this folder without a stub.

Run `airflow-mlops stub <dags folder>` to give each spec its own stub file, so a broken spec shows up
as its own import error and hides no other DAG.
"""

from airflow_mlops.factory import dags_from_unstubbed_specs

globals().update(dags_from_unstubbed_specs(__file__))
