"""Base for the pipeline operators: each one reads the model spec it was built from at run time."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from airflow.sdk import BaseOperator

from airflow_mlops.spec import ModelSpec, load_spec


class SpecOperator(BaseOperator):
    """An operator of a spec-generated DAG.

    :param spec_path: path of the YAML model spec (templated). The spec is re-read and validated
        when the task runs, so the task always acts on the spec the DAG was parsed from.
    """

    template_fields = ("spec_path",)
    ui_color = "#e8f0fe"

    def __init__(self, *, spec_path: str, **kwargs: Any) -> None:
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


def upstream(context: Any, task_id: str) -> dict[str, Any]:
    """The XCom return value of an upstream task of this DAG run; a clear error when it is missing."""
    value = context["ti"].xcom_pull(task_ids=task_id)
    if not isinstance(value, dict):
        raise ValueError(f"upstream task {task_id!r} returned no result (got {value!r})")
    return value


class PlaceholderStage(SpecOperator):
    """A stage that only logs what it will do; replaced by the real operator of that stage."""

    stage = "stage"

    def execute(self, context: Any) -> dict[str, Any]:
        self.log.info("%s for %s: not implemented yet, nothing to do", self.stage, self.spec.model.name)
        return {"stage": self.stage, "model": self.spec.model.name}
