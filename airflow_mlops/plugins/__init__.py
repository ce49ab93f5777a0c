"""Airflow plugin: the monitoring reports of every model, listed and served by the Airflow API server.

Registered through the ``airflow.plugins`` entry point. Mounts a FastAPI app at ``/mlops-reports`` and adds
"Model reports" and "Model overview" entries to the Airflow UI's navigation: reviewing a report, seeing what
serves and rolling back need only the UI.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from airflow_mlops.plugins.reports_app import URL_PREFIX, create_app


class MLOpsReportsPlugin(AirflowPlugin):
    """Lists and serves the Evidently monitoring reports under ``/mlops-reports``."""

    name = "airflow_mlops_reports"
    fastapi_apps = [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "airflow-mlops reports"}]
    external_views = [
        {
            "name": "Model reports",
            "href": f"{URL_PREFIX}/",
            "destination": "nav",
            "category": "browse",
            "url_route": "mlops-reports",
        },
        {
            "name": "Model overview",
            "href": f"{URL_PREFIX}/overview",
            "destination": "nav",
            "category": "browse",
            "url_route": "mlops-overview",
        },
    ]
