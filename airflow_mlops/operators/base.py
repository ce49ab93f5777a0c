"""Base for the pipeline operators: each one reads the model spec it was built from at run time."""

from __future__ import annotations

import os
from functools import cached_property, wraps
from pathlib import Path
from typing import Any

from airflow.sdk import BaseOperator

from airflow_mlops.hooks.mlflow import MLflowHook
from airflow_mlops.spec import ModelSpec, load_spec


class LineageMixin:
    """OpenLineage for an operator: its input and output datasets, from the dict its ``execute`` returned.

    Each subclass's ``execute`` is wrapped (its body untouched) to note the datasets while the task process can
    still look up connections; the OpenLineage provider then calls :meth:`get_openlineage_facets_on_complete`
    (in a fork of the task process). With OpenLineage unconfigured nothing is noted and the provider never asks.
    :mod:`airflow_mlops.lineage` maps each operator kind to its datasets.
    """

    _lineage: Any = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        execute = cls.__dict__.get("execute")
        if execute is not None and not getattr(execute, "_notes_lineage", False):
            cls.execute = _noting_lineage(execute)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        from airflow_mlops.lineage import operator_lineage

        return operator_lineage(self._lineage)


def _noting_lineage(execute: Any) -> Any:
    @wraps(execute)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = execute(self, *args, **kwargs)
        from airflow_mlops.lineage import note_lineage

        self._lineage = note_lineage(self, result)
        return result

    wrapper._notes_lineage = True  # type: ignore[attr-defined]
    return wrapper


class SpecOperator(LineageMixin, BaseOperator):
    """An operator of a spec-generated DAG.

    :param spec_path: path of the YAML model spec (templated). The spec is re-read and validated
        when the task runs, so the task always acts on the spec the DAG was parsed from.
    """

    template_fields = ("spec_path",)
    ui_color = "#e8f0fe"

    def __init__(self, *, spec_path: str, **kwargs: Any) -> None:
        kwargs.setdefault("multiple_outputs", True)  # each result key is an XCom: ``task.output["dataset"]``
        super().__init__(**kwargs)
        self.spec_path = spec_path
        self._spec: ModelSpec | None = None

    @property
    def spec(self) -> ModelSpec:
        """The validated spec (loaded once per task run)."""
        if self._spec is None:
            self._spec = load_spec(self.spec_path)
        return self._spec

    def project_path(self, relative: str) -> Path:
        """Resolve a path from the spec against the project root (the folder above dags/)."""
        return project_path(self.spec_path, relative)


def project_path(spec_path: str | Path, relative: str) -> Path:
    """Resolve ``relative`` against ``$AIRFLOW_MLOPS_PROJECT``, else the spec folder's parent, else the spec folder."""
    path = Path(relative)
    if path.is_absolute():
        return path
    spec_dir = Path(spec_path).resolve().parent
    roots = [Path(os.environ["AIRFLOW_MLOPS_PROJECT"])] if os.environ.get("AIRFLOW_MLOPS_PROJECT") else []
    roots += [spec_dir.parent, spec_dir]
    for root in roots:
        if (root / path).exists():
            return root / path
    return roots[0] / path


class MLflowSpecOperator(SpecOperator):
    """A stage operator that talks to MLflow: owns ``mlflow_conn_id`` and builds the hook once.

    Modelled on the amazon provider's ``AwsBaseHookMixin``: ``mlflow_conn_id`` is templated and defaults to
    :attr:`MLflowHook.default_conn_name`; subclasses list their own templated fields with
    :func:`mlflow_template_fields` and use :attr:`hook` in ``execute``.

    :param mlflow_conn_id: connection of the MLflow tracking server / registry (templated).
    """

    template_fields: tuple[str, ...] = (*SpecOperator.template_fields, "mlflow_conn_id")

    def __init__(self, *, mlflow_conn_id: str = MLflowHook.default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.mlflow_conn_id = mlflow_conn_id

    @cached_property
    def hook(self) -> MLflowHook:
        """The MLflow hook of :attr:`mlflow_conn_id` (built after templates are rendered)."""
        return MLflowHook(mlflow_conn_id=self.mlflow_conn_id)


def mlflow_template_fields(*fields: str) -> tuple[str, ...]:
    """``spec_path``, ``mlflow_conn_id`` and ``fields``: the template fields of an MLflow stage operator."""
    return tuple(dict.fromkeys((*MLflowSpecOperator.template_fields, *fields)))


def required(value: Any, name: str) -> Any:
    """``value`` of the rendered input ``name``; a clear error when whoever built the DAG wired nothing."""
    if value is None or value == "" or value == "None":
        raise ValueError(f"input {name!r} is empty: wire it from the producing task, e.g. task.output[{name!r}]")
    return value
