"""OpenLineage datasets of the pipeline operators, read from what each task returned (its XCom).

:class:`~airflow_mlops.operators.base.LineageMixin` calls :func:`note_lineage` right after each ``execute``
(a no-op unless an OpenLineage transport is configured) and hands the noted datasets to the OpenLineage
provider from ``get_openlineage_facets_on_complete``. Dataset names:

- files (label source, datasets, which are content-addressed): namespace ``file``, the absolute path, and
  the dataset's sha256 as its version; objects in ``[mlops] storage_url``: namespace ``s3://<bucket>``, the key;
- Feast feature views: namespace ``feast://<project>``, the view's name;
- MLflow model versions: namespace ``mlflow://<tracking host:port>`` (a local store: its path), name
  ``<model>/versions/<n>``;
- the scores table: ``sqlite://<database file>`` / ``postgres://<host>:<port>`` with ``<database>.<schema>.<table>``,
  as OpenLineage names database tables.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from airflow_mlops import settings


@dataclass(frozen=True)
class Ref:
    """One OpenLineage dataset: ``namespace``, ``name`` and an optional version (a content digest)."""

    namespace: str
    name: str
    version: str | None = None


Lineage = tuple[list[Ref], list[Ref]]


def file_ref(path: Any, digest: str | None = None) -> Ref:
    """A file (namespace ``file``, absolute path) or an object (namespace ``<scheme>://<bucket>``, its key)."""
    text = str(path)
    if "://" in text and not isinstance(path, Path):
        parts = urlsplit(text)
        return Ref(f"{parts.scheme}://{parts.hostname or parts.netloc}", parts.path.lstrip("/"), digest or None)
    return Ref("file", str(Path(path).resolve()), digest or None)


def feast_refs(op: Any) -> list[Ref]:
    """The feature views of the spec's refs, in the Feast project of its repo."""
    spec = op.spec
    views = sorted({ref.split(":", 1)[0] for ref in spec.features.refs})
    project = feast_project(op.project_path(spec.features.repo), getattr(op, "fs_yaml_file", None))
    return [Ref(f"feast://{project}", view) for view in views]


def feast_project(repo: Path, fs_yaml_file: str | None = None) -> str:
    """``project`` of the repo's Feast config (read as data with the hardened YAML reader), else the folder name."""
    from airflow_mlops.spec.yamlsafe import MAX_BYTES, YamlProblem, decode, read_yaml

    config = repo / (fs_yaml_file or os.environ.get("FEAST_FS_YAML_FILE_PATH") or "feature_store.yaml")
    try:
        with config.open("rb") as handle:
            data, _ = read_yaml(decode(handle.read(MAX_BYTES + 1)))
        project = data.get("project") if isinstance(data, dict) else None
    except (OSError, YamlProblem):
        project = None
    return project if isinstance(project, str) and project else repo.name


def mlflow_namespace(tracking_uri: str) -> str:
    """``mlflow://host:port`` of a tracking server (credentials dropped), ``mlflow://<path>`` of a local store."""
    parts = urlsplit(tracking_uri)
    if parts.hostname:
        port = f":{parts.port}" if parts.port else ""
        return f"mlflow://{parts.hostname}{port}"
    return f"mlflow:///{(parts.path or tracking_uri).lstrip('/')}"


def model_ref(op: Any, version: Any) -> Ref:
    return Ref(mlflow_namespace(op.hook.tracking_uri), f"{op.spec.model.name}/versions/{version}")


def scores_ref(conn_id: str, table: str) -> Ref:
    """The scores table behind ``conn_id``, named as OpenLineage names SQLite and PostgreSQL tables."""
    from airflow_mlops.hooks.scores_db import ScoresDbHook

    hook = ScoresDbHook(scores_conn_id=conn_id)
    if hook.dialect == "sqlite":
        return Ref(f"sqlite://{Path(hook._target[1]).resolve()}", table)
    conn = hook.get_connection(conn_id)
    return Ref(f"postgres://{conn.host}:{conn.port or 5432}", f"{conn.schema or 'postgres'}.public.{table}")


def _materialize(op: Any, result: dict) -> Lineage:
    f = op.spec.features
    source = f.label_source if op.purpose == "train" else (f.scoring_source or f.label_source)
    inputs = [*feast_refs(op), file_ref(settings.input_path(source))]
    return inputs, [file_ref(result["dataset"], result.get("digest"))]


def _validate(op: Any, result: dict) -> Lineage:
    outputs = [file_ref(result["dataset"], result.get("digest"))]
    if result.get("quarantine"):
        outputs.append(file_ref(result["quarantine"]))
    return [file_ref(op.dataset, op.digest)], outputs


def _train(op: Any, result: dict) -> Lineage:
    return [file_ref(result["dataset"], result.get("digest"))], [model_ref(op, result["model_version"])]


def _evaluate(op: Any, result: dict) -> Lineage:
    versions = [(result.get(role) or {}).get("version") for role in ("challenger", "champion")]
    return [file_ref(op.dataset), *(model_ref(op, v) for v in versions if v is not None)], []


def _promote(op: Any, result: dict) -> Lineage:
    return [], [model_ref(op, result["version"])] if result.get("promoted") and result.get("version") else []


def _score(op: Any, result: dict) -> Lineage:
    versions = [result["model_version"]] + ([result["shadow"]["model_version"]] if result.get("shadow") else [])
    inputs = [file_ref(result["dataset"], getattr(op, "digest", None)), *(model_ref(op, v) for v in versions)]
    return inputs, [scores_ref(result["conn_id"], result["table"])]


def _rollback(op: Any, result: dict) -> Lineage:
    return [], [model_ref(op, result["version"])]


# Operator class name → its lineage from (operator, returned dict). Subclasses inherit their base's entry.
LINEAGE: dict[str, Callable[[Any, dict], Lineage]] = {
    "FeastMaterializeOperator": _materialize,
    "GXValidateOperator": _validate,
    "MLflowTrainOperator": _train,
    "EvaluateOperator": _evaluate,
    "PromotionGateOperator": _promote,
    "BatchScoreOperator": _score,
    "RollbackOperator": _rollback,
}


def lineage_of(op: Any, result: Any) -> Lineage:
    """``(inputs, outputs)`` of ``op`` given its return value; empty for operators without an entry."""
    if not isinstance(result, dict):
        return [], []
    for cls in type(op).__mro__:
        if cls.__name__ in LINEAGE:
            return LINEAGE[cls.__name__](op, result)
    return [], []


def _datasets(refs: Iterable[Ref], kind: type) -> list[Any]:
    """OpenLineage ``InputDataset``/``OutputDataset`` objects, one per (namespace, name); a digest as its version."""
    from openlineage.client.generated.dataset_version_dataset import DatasetVersionDatasetFacet

    out, seen = [], set()
    for ref in refs:
        if (ref.namespace, ref.name) not in seen:
            seen.add((ref.namespace, ref.name))
            facets = {"version": DatasetVersionDatasetFacet(datasetVersion=ref.version)} if ref.version else {}
            out.append(kind(namespace=ref.namespace, name=ref.name, facets=facets))
    return out


def note_lineage(op: Any, result: Any) -> Lineage | None:
    """``(inputs, outputs)`` of a task that just returned ``result``, when OpenLineage is configured; else None.

    Runs in the task process right after ``execute`` (connection lookups work there, not in the provider's
    fork). A failure here is logged and never fails the task.
    """
    try:
        from airflow.providers.openlineage.conf import is_disabled
    except ImportError:
        return None
    if is_disabled():
        return None
    try:
        return lineage_of(op, result)
    except Exception as exc:
        op.log.warning("OpenLineage: no datasets for this task (%s: %s)", type(exc).__name__, exc)
        return None


def operator_lineage(lineage: Lineage | None) -> Any:
    """The provider's ``OperatorLineage`` of noted datasets (empty when none were noted)."""
    from airflow.providers.common.compat.openlineage.facet import InputDataset, OutputDataset
    from airflow.providers.openlineage.extractors import OperatorLineage

    inputs, outputs = lineage or ([], [])
    return OperatorLineage(inputs=_datasets(inputs, InputDataset), outputs=_datasets(outputs, OutputDataset))
