"""Where monitoring reports live: ``reports/<model>/monitoring/<report_id>/`` below the storage root.

Each report folder holds ``report.html`` (for people), ``report.json`` (Evidently's snapshot, for
machines) and ``headline.json`` (the numbers the CLI, the plugin and ``decide_retrain`` read).

- ``[mlops] storage_url`` set (a deployment): all three are objects below it (:mod:`airflow_mlops.datasets`),
  written and read through ``ObjectStoragePath``; nothing stays on the worker. The spec's
  ``report_conn_id``/``report_bucket`` are not used then.
- Otherwise the folder is under the MLOps home. With ``monitoring.report_conn_id`` + ``report_bucket`` the HTML
  and JSON go to ``s3://<bucket>/airflow-mlops/reports/<model>/monitoring/<report_id>/`` through the amazon
  provider's S3Hook; ``headline.json`` is kept locally (with the S3 locations) so listings need no S3 call.

Readers build no location from anything but allow-listed names (model pattern, report id pattern, the two
file names); locally no symlink is followed and nothing is created.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import Any

from airflow_mlops import settings
from airflow_mlops.spec.schema import NAME_PATTERN

HEADLINE = "headline.json"
REPORT_FILES = ("report.html", "report.json")  # the only files a reader may ask for
REPORT_ID = re.compile(r"^\d{8}T\d{6}(\d{6})?Z(-[a-z0-9]+)?$")
MODEL_NAME = re.compile(NAME_PATTERN)
S3_PREFIX = "airflow-mlops/reports"
MAX_HEADLINE_BYTES = 1 << 20  # a headline is a few kB; a larger object is not one of ours


def _object_root() -> Any | None:
    """``<storage_url>/reports`` as an ObjectStoragePath, or None when reports are local."""
    if settings.storage_url() is None:
        return None
    from airflow_mlops.datasets import storage_root

    return storage_root() / "reports"


def valid_model(model: str) -> bool:
    """Whether ``model`` is a spec model name (so it is also one safe path segment)."""
    return MODEL_NAME.fullmatch(model) is not None


def valid_report_id(report_id: str) -> bool:
    return REPORT_ID.fullmatch(report_id) is not None


def monitoring_dir(model: str) -> Path:
    """The monitoring folder of ``model``, created: for writers only (readers use :func:`report_folder`)."""
    if not valid_model(model):
        raise ValueError(f"not a model name: {model!r}")
    path = settings.model_reports_dir(model) / "monitoring"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _reports_root() -> Path:
    """The reports folder, resolved, without creating anything under it."""
    return (settings.mlops_home() / "reports").resolve()


def _real_dir(path: Path) -> bool:
    """A directory that is not a symlink (``lstat``: a link is refused, not followed)."""
    try:
        return stat.S_ISDIR(path.lstat().st_mode)
    except OSError:
        return False


def _read_regular(path: Path) -> bytes:
    """Bytes of a regular file, refusing a symlink at the last step. Raises FileNotFoundError."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise FileNotFoundError(str(path)) from exc
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise FileNotFoundError(str(path))
        return handle.read()


def report_folder(model: str, report_id: str) -> Path | None:
    """``reports/<model>/monitoring/<report_id>`` if the names are valid and every level is a real folder.

    Readers' only way to a report folder: nothing is created, symlinks are refused, the result is
    checked to lie inside the reports folder. ``None`` when any of that fails.
    """
    if not (valid_model(model) and valid_report_id(report_id)):
        return None
    root = _reports_root()
    folder = root
    for part in (model, "monitoring", report_id):
        folder = folder / part
        if not _real_dir(folder):
            return None
    return folder if folder.resolve().is_relative_to(root) else None


def save_report(
    model: str,
    report_id: str,
    snapshot: Any,
    headline: dict[str, Any],
    conn_id: str | None = None,
    bucket: str | None = None,
) -> dict[str, Any]:
    """Write the report; returns ``headline`` completed with ``report_id``, ``html``, ``json`` locations."""
    remote = _object_root()
    if remote is not None:
        return _save_object_report(remote, model, report_id, snapshot, headline)
    folder = monitoring_dir(model) / report_id
    folder.mkdir(parents=True, exist_ok=True)
    html, js = folder / "report.html", folder / "report.json"
    snapshot.save_html(str(html))
    snapshot.save_json(str(js))
    headline = {**headline, "report_id": report_id, "model": model, "html": str(html), "json": str(js)}
    if conn_id and bucket:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        prefix = f"{S3_PREFIX}/{model}/monitoring/{report_id}"
        for local, name, kind in ((html, "report.html", "text/html"), (js, "report.json", "application/json")):
            # S3Hook takes upload ExtraArgs in its constructor; load_file() has no extra_args parameter
            hook = S3Hook(aws_conn_id=conn_id, extra_args={"ContentType": kind})
            hook.load_file(str(local), key=f"{prefix}/{name}", bucket_name=bucket, replace=True)
        headline["html"] = f"s3://{bucket}/{prefix}/report.html"
        headline["json"] = f"s3://{bucket}/{prefix}/report.json"
        headline["s3_conn_id"] = conn_id
        html.unlink()
        js.unlink()
    (folder / HEADLINE).write_text(json.dumps(headline, indent=2, default=str))
    return headline


def _save_object_report(root: Any, model: str, report_id: str, snapshot: Any, headline: dict) -> dict[str, Any]:
    from airflow_mlops.datasets import staged

    if not (valid_model(model) and valid_report_id(report_id)):
        raise ValueError(f"not a model name and report id: {model!r}, {report_id!r}")
    target = root / model / "monitoring" / report_id
    html, js = target / "report.html", target / "report.json"
    headline = {**headline, "report_id": report_id, "model": model, "html": str(html), "json": str(js)}
    with staged(target) as local:  # headline.json last: a listed report has its files
        snapshot.save_html(str(local / "report.html"))
        snapshot.save_json(str(local / "report.json"))
    (target / HEADLINE).write_text(json.dumps(headline, indent=2, default=str))
    return headline


def _list_object_reports(root: Any, model: str | None) -> list[dict[str, Any]]:
    try:
        models = [model] if model is not None else sorted(p.name for p in root.iterdir() if valid_model(p.name))
    except FileNotFoundError:
        return []
    found: list[dict[str, Any]] = []
    for name in models:
        try:
            entries = [e.name for e in (root / name / "monitoring").iterdir() if valid_report_id(e.name)]
        except FileNotFoundError:
            continue
        for report_id in entries:
            try:
                headline = json.loads(_read_object(root / name / "monitoring" / report_id / HEADLINE))
            except (OSError, ValueError):
                continue
            if isinstance(headline, dict):
                found.append({**headline, "model": name, "report_id": report_id})
    return sorted(found, key=lambda h: h["report_id"], reverse=True)


def _read_object(path: Any, limit: int | None = MAX_HEADLINE_BYTES) -> bytes:
    """An object's bytes (FileNotFoundError when missing; over ``limit`` bytes counts as missing)."""
    if not path.is_file():
        raise FileNotFoundError(str(path))
    with path.open("rb") as handle:
        data = handle.read() if limit is None else handle.read(limit + 1)  # pyarrow's files refuse read(-1)
    if limit is not None and len(data) > limit:
        raise FileNotFoundError(f"{path}: larger than {limit} bytes")
    return data


def list_reports(model: str | None = None) -> list[dict[str, Any]]:
    """Headlines of saved reports, newest first; of one model or of all models. Never writes."""
    if model is not None and not valid_model(model):
        return []
    remote = _object_root()
    if remote is not None:
        return _list_object_reports(remote, model)
    root = _reports_root()
    if model is None:
        try:
            models = sorted(p.name for p in root.iterdir() if valid_model(p.name))
        except OSError:
            return []
    else:
        models = [model]
    found: list[dict[str, Any]] = []
    for name in models:
        folder = root / name / "monitoring"
        if not (_real_dir(root / name) and _real_dir(folder)):
            continue
        for entry in folder.iterdir():
            if not (valid_report_id(entry.name) and _real_dir(entry)):
                continue
            try:
                headline = json.loads(_read_regular(entry / HEADLINE))
            except (OSError, ValueError):
                continue
            if isinstance(headline, dict):
                found.append({**headline, "model": name, "report_id": entry.name})
    return sorted(found, key=lambda h: h["report_id"], reverse=True)


def read_report_file(model: str, report_id: str, name: str) -> bytes:
    """Bytes of ``report.html`` or ``report.json`` of one report, from disk or S3. Raises FileNotFoundError.

    Names are checked against allow-lists before any path is built; nothing is created and no symlink
    is followed.
    """
    remote = _object_root()
    if remote is not None:
        if not (name in REPORT_FILES and valid_model(model) and valid_report_id(report_id)):
            raise FileNotFoundError(name)
        return _read_object(remote / model / "monitoring" / report_id / name, limit=None)
    folder = report_folder(model, report_id) if name in REPORT_FILES else None
    if folder is None:
        raise FileNotFoundError(name)
    try:
        return _read_regular(folder / name)
    except FileNotFoundError:
        pass
    try:
        headline = json.loads(_read_regular(folder / HEADLINE))
    except ValueError as exc:
        raise FileNotFoundError(str(folder / HEADLINE)) from exc
    location = str(headline.get("html" if name == "report.html" else "json", "")) if isinstance(headline, dict) else ""
    if not location.startswith("s3://"):
        raise FileNotFoundError(location)
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    bucket, _, key = location[5:].partition("/")
    if key != f"{S3_PREFIX}/{model}/monitoring/{report_id}/{name}":  # only the object save_report wrote
        raise FileNotFoundError(location)
    obj = S3Hook(aws_conn_id=headline.get("s3_conn_id")).get_key(key, bucket_name=bucket)
    return obj.get()["Body"].read()
