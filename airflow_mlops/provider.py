"""Airflow provider metadata, found through the ``apache_airflow_provider`` entry point.

Kept free of imports: Airflow calls :func:`get_provider_info` whenever it discovers providers.
"""

from __future__ import annotations

from typing import Any

from airflow_mlops import __version__

PACKAGE_NAME = "airflow-mlops"


def get_provider_info() -> dict[str, Any]:
    """Return the provider description Airflow's ProvidersManager expects."""
    return {
        "package-name": PACKAGE_NAME,
        "name": "MLOps (Feast, Great Expectations, MLflow, Evidently)",
        "description": "YAML-driven DAG factory and operators for batch ML pipelines.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "airflow-mlops",
                "external-doc-url": "https://github.com/airflow-mlops/airflow-mlops",
                "tags": ["software"],
            }
        ],
        "operators": [
            {
                "integration-name": "airflow-mlops",
                "python-modules": [
                    "airflow_mlops.operators.features",
                    "airflow_mlops.operators.validate",
                    "airflow_mlops.operators.train",
                    "airflow_mlops.operators.evaluate",
                    "airflow_mlops.operators.promotion",
                    "airflow_mlops.operators.score",
                    "airflow_mlops.operators.report",
                    "airflow_mlops.operators.retrain",
                ],
            }
        ],
        "hooks": [
            {
                "integration-name": "airflow-mlops",
                "python-modules": [
                    "airflow_mlops.hooks.feast",
                    "airflow_mlops.hooks.mlflow",
                    "airflow_mlops.hooks.scores_db",
                    "airflow_mlops.hooks.state_db",
                ],
            }
        ],
        "connection-types": [
            {"hook-class-name": "airflow_mlops.hooks.mlflow.MLflowHook", "connection-type": "mlflow"},
            {"hook-class-name": "airflow_mlops.hooks.scores_db.ScoresDbHook", "connection-type": "scores_db"},
            {"hook-class-name": "airflow_mlops.hooks.feast.FeastHook", "connection-type": "feast"},
            {"hook-class-name": "airflow_mlops.hooks.state_db.StateDbHook", "connection-type": "mlops_state"},
        ],
        "extra-links": [
            "airflow_mlops.links.MLflowRunLink",
            "airflow_mlops.links.ReportLink",
            "airflow_mlops.links.ValidationReportLink",
        ],
    }
