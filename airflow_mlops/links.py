"""Operator extra links: from an Airflow task to its MLflow run and to its reports.

An operator calls ``SomeLink.persist(context, url)`` during ``execute``; Airflow computes the link
on the worker after ``execute`` and the UI shows it as a button on the task instance.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator
    from airflow.sdk.types import TaskInstanceKey


class _XComLink(BaseOperatorLink):
    """A link whose URL the task stored in XCom under :attr:`key`."""

    name: ClassVar[str] = ""
    key: ClassVar[str] = ""

    @classmethod
    def persist(cls, context: Any, url: str | None) -> None:
        """Store ``url`` so the link resolves for this task instance."""
        if url:
            context["ti"].xcom_push(key=cls.key, value=url)

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        # ``airflow.sdk.BaseXCom`` is the task SDK's public XCom class; a URL is a short string, which every
        # XCom backend stores inline, so the base class reads it back as written.
        from airflow.sdk import BaseXCom

        return BaseXCom.get_value(key=self.key, ti_key=ti_key) or ""


class MLflowRunLink(_XComLink):
    """The MLflow run (or model version) this task logged to."""

    name = "MLflow run"
    key = "mlops_mlflow_run_url"


class ReportLink(_XComLink):
    """The Evidently / evaluation report this task wrote."""

    name = "Report"
    key = "mlops_report_url"


class ValidationReportLink(_XComLink):
    """The data validation report this task wrote."""

    name = "Validation report"
    key = "mlops_validation_report_url"
