"""airflow-mlops: an Airflow provider and YAML-driven DAG factory for batch ML pipelines."""

__version__ = "0.1.0"
