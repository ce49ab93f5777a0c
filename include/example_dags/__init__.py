"""Hand-written example DAGs built from the airflow-mlops operators (no factory)."""
