"""Registered model versions load only as airflow-mlops wrote them (used through :class:`MLflowHook`).

MLflow's own loaders take the serialization format and the skops trust list from the artifact's MLmodel file,
so whoever can write a version's artifacts chooses what runs in the loading process. Here the format and the
trust list come from our code, and the bytes must be the ones training logged:

* **Seal** (training): the sha256 of every file of the registered version goes into the tags
  ``mlops.model_sha256`` (one digest over the sorted ``{path: sha256}`` JSON) and ``mlops.model_files`` (that
  JSON, to name the changed files), on the model version and on its run.
* **Load**: the version must carry the seal (and its run the same digest); its files are downloaded to a temporary
  folder and hashed; any difference raises :class:`TamperedModelError` ("model artifact changed since
  registration") before a byte is deserialized. Then only ``model.skops`` is read, with ``skops.io.load`` trusting
  just the scikit-learn/numpy/scipy types :data:`~airflow_mlops.training.serialize.TRUSTED_PREFIXES` allows.
  Pickle is never deserialized (and ``MLFLOW_ALLOW_PICKLE_DESERIALIZATION`` is never set).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DIGEST_TAG = "mlops.model_sha256"
FILES_TAG = "mlops.model_files"
RUN_TAG = "mlops.run_id"
SKOPS_FILE = "model.skops"
MAX_TAG = 5000  # MLflow's limit for a model version tag value
TAMPERED = "model artifact changed since registration"


class ModelArtifactError(RuntimeError):
    """A registered version that airflow-mlops refuses to load."""


class UnsealedModelError(ModelArtifactError):
    """The version was not registered by the airflow-mlops training DAG (no digests to check it against)."""


class TamperedModelError(ModelArtifactError):
    """The version's files differ from what training logged."""


class UnsafeModelError(ModelArtifactError):
    """The files would need pickle or types outside the trust list to load."""


@dataclass
class VerifiedModel:
    """A model loaded from verified files, with what its (verified) MLmodel says about its input."""

    name: str
    version: str
    model: Any
    columns: list[str] | None = None
    example: Any = None


def file_digests(folder: Path) -> dict[str, str]:
    """``{relative posix path: sha256}`` of every file under ``folder``."""
    from airflow_mlops.datasets import file_digest

    return {p.relative_to(folder).as_posix(): file_digest(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def combined_digest(files: dict[str, str]) -> str:
    """One sha256 over the sorted ``{path: sha256}`` JSON: covers every file's bytes and the set of names."""
    return hashlib.sha256(json.dumps(files, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def is_sealed(tags: dict[str, str] | None) -> bool:
    """True when a version's tags say our training DAG registered it (run id and model digest)."""
    tags = tags or {}
    return bool(tags.get(RUN_TAG)) and len(tags.get(DIGEST_TAG) or "") == 64


def download(client: Any, name: str, version: str, dst: Path) -> Path:
    """The files of ``name`` version ``version`` copied into ``dst`` (no MLflow loader runs)."""
    import mlflow.artifacts

    uri = client.get_model_version_download_uri(name, str(version))
    with _no_progress_bar():  # a tqdm bar per load would fill the task log
        path = mlflow.artifacts.download_artifacts(
            artifact_uri=uri, dst_path=str(dst), tracking_uri=client.tracking_uri
        )
    return Path(path)


@contextmanager
def _no_progress_bar() -> Iterator[None]:
    key = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"
    before = os.environ.get(key)
    os.environ[key] = "false"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = before


def seal(client: Any, name: str, version: str) -> str:
    """Record the digests of a freshly registered version on it and on its run; returns the combined digest."""
    mv = client.get_model_version(name, str(version))
    with tempfile.TemporaryDirectory(prefix="mlops-seal-") as tmp:
        files = file_digests(download(client, name, str(version), Path(tmp)))
    digest = combined_digest(files)
    listing = json.dumps(files, sort_keys=True)
    tags = {DIGEST_TAG: digest, **({FILES_TAG: listing} if len(listing) <= MAX_TAG else {})}
    if mv.run_id:
        tags[RUN_TAG] = mv.run_id
        for key, value in tags.items():
            client.set_tag(mv.run_id, key, value)
    for key, value in tags.items():
        client.set_model_version_tag(name, str(version), key, value)
    return digest


def expected_digest(client: Any, mv: Any) -> str:
    """The digest a version must match; :class:`UnsealedModelError` unless version and run agree on it."""
    label = f"{mv.name} v{mv.version}"
    tags = dict(mv.tags or {})
    if not is_sealed(tags):
        raise UnsealedModelError(
            f"{label} was not registered by the airflow-mlops training DAG (no {DIGEST_TAG} / {RUN_TAG} tags); "
            "refusing to load it"
        )
    run_id = tags[RUN_TAG]
    if run_id != mv.run_id:
        raise TamperedModelError(f"{TAMPERED}: {label}: tag {RUN_TAG}={run_id} but the version's run is {mv.run_id}")
    if client.get_run(run_id).data.tags.get(DIGEST_TAG) != tags[DIGEST_TAG]:
        raise TamperedModelError(f"{TAMPERED}: {label}: the digests on the version and on run {run_id} differ")
    return tags[DIGEST_TAG]


def verify(folder: Path, expected: str, label: str, listing: str | None = None) -> None:
    """Raise :class:`TamperedModelError` unless the files under ``folder`` have the combined digest ``expected``."""
    files = file_digests(folder)
    if combined_digest(files) == expected:
        return
    detail = "digest differs"
    try:
        recorded = json.loads(listing) if listing else None
    except ValueError:
        recorded = None
    if isinstance(recorded, dict):
        changed = sorted(p for p in files.keys() & recorded.keys() if files[p] != recorded[p])
        added, removed = sorted(files.keys() - recorded.keys()), sorted(recorded.keys() - files.keys())
        detail = f"changed {changed}, added {added}, removed {removed}"
    raise TamperedModelError(f"{TAMPERED}: {label}: {detail}; refusing to load it")


def load_skops(path: Path, label: str) -> Any:
    """The object in a skops file, trusting only types our code allows; never pickle."""
    from airflow_mlops.training.serialize import foreign_types, quiet_skops

    if not path.is_file():
        raise UnsafeModelError(
            f"{label} has no {SKOPS_FILE}; airflow-mlops loads only skops files with its own trust list "
            "and refuses pickle deserialization"
        )
    with quiet_skops():
        # Importing skops already scans sys.modules (for scipy's ufuncs): ~1,200 Airflow deprecation lines
        # in the task log unless the import, too, runs under quiet_skops.
        import skops.io

        try:
            found = skops.io.get_untrusted_types(file=path)
        except Exception as exc:  # not a skops zip (e.g. a pickle renamed): never fall back to pickle
            raise UnsafeModelError(f"{label}: {SKOPS_FILE} is not a skops file ({exc}); refusing pickle") from exc
        foreign = foreign_types(found)
        if foreign:
            raise UnsafeModelError(f"{label}: {SKOPS_FILE} holds types outside scikit-learn/numpy/scipy: {foreign}")
        return skops.io.load(path, trusted=found)


def _input_info(folder: Path) -> tuple[list[str] | None, Any]:
    """Input column names and input example recorded in the (already verified) MLmodel file."""
    from mlflow.models import Model

    meta = Model.load(str(folder / "MLmodel"))
    schema = meta.get_input_schema()
    columns = schema.input_names() if schema is not None and schema.has_input_names() else None
    try:
        example = meta.load_input_example(str(folder))
    except Exception:  # no or unreadable example: the caller must supply input
        example = None
    return columns, example


def load_version(client: Any, name: str, version: str, *, with_input: bool = False, known: Any = None) -> VerifiedModel:
    """Load ``name`` version ``version`` after checking the seal and every file's digest (see module doc).

    ``known``: that version as the caller just read it from the registry (name, version, run id, tags, e.g. an
    alias lookup), which saves asking again; its tags are checked exactly as a fresh read's would be.
    """
    version = str(version)
    label = f"{name} v{version}"
    if known is not None and (str(known.name), str(known.version)) != (name, version):
        raise ValueError(f"{label}: the version given is {known.name} v{known.version}")
    mv = known if known is not None else client.get_model_version(name, version)
    expected = expected_digest(client, mv)
    with tempfile.TemporaryDirectory(prefix="mlops-model-") as tmp:
        folder = download(client, name, version, Path(tmp))
        verify(folder, expected, label, (mv.tags or {}).get(FILES_TAG))
        model = load_skops(folder / SKOPS_FILE, label)
        columns, example = _input_info(folder) if with_input else (None, None)
    return VerifiedModel(name, version, model, columns, example)
