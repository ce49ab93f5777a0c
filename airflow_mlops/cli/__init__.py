"""Command line interface (``airflow-mlops --help``)."""
