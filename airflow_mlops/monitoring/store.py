"""Where monitoring reports live: ``reports/<model>/monitoring/<report_id>/`` under the MLOps home, or S3.

Each report folder holds ``report.html`` (for people), ``report.json`` (Evidently's snapshot, for
machines) and ``headline.json`` (the numbers the CLI, the plugin and ``decide_retrain`` read). With
``monitoring.report_conn_id`` + ``report_bucket`` the HTML and JSON go to
``s3://<bucket>/airflow-mlops/reports/<model>/monitoring/<report_id>/`` through the amazon provider's
S3Hook; ``headline.json`` is kept locally too (with the S3 locations) so listings need no S3 call.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from airflow_mlops import settings

HEADLINE = "headline.json"
REPORT_ID = re.compile(r"^\d{8}T\d{6}(\d{6})?Z(-[a-z0-9]+)?$")
S3_PREFIX = "airflow-mlops/reports"


def monitoring_dir(model: str) -> Path:
    path = settings.model_reports_dir(model) / "monitoring"
    path.mkdir(parents=True, exist_ok=True)
    return path


def save_report(
    model: str,
    report_id: str,
    snapshot: Any,
    headline: dict[str, Any],
    conn_id: str | None = None,
    bucket: str | None = None,
) -> dict[str, Any]:
    """Write the report; returns ``headline`` completed with ``report_id``, ``html``, ``json`` locations."""
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


def list_reports(model: str | None = None) -> list[dict[str, Any]]:
    """Headlines of saved reports, newest first; of one model or of all models."""
    root = settings.reports_dir()
    models = [model] if model else sorted(p.name for p in root.iterdir() if (p / "monitoring").is_dir())
    found: list[dict[str, Any]] = []
    for name in models:
        folder = root / name / "monitoring"
        if not folder.is_dir():
            continue
        for entry in folder.iterdir():
            if (entry / HEADLINE).is_file() and REPORT_ID.match(entry.name):
                try:
                    found.append(json.loads((entry / HEADLINE).read_text()))
                except (OSError, ValueError):
                    continue
    return sorted(found, key=lambda h: h.get("report_id", ""), reverse=True)


def read_report_file(model: str, report_id: str, name: str) -> bytes:
    """Bytes of ``report.html`` or ``report.json`` of one report, from disk or S3. Raises FileNotFoundError."""
    if name not in ("report.html", "report.json") or not REPORT_ID.match(report_id) or "/" in model:
        raise FileNotFoundError(name)
    folder = monitoring_dir(model) / report_id
    local = folder / name
    if local.is_file():
        return local.read_bytes()
    headline_file = folder / HEADLINE
    if not headline_file.is_file():
        raise FileNotFoundError(str(local))
    headline = json.loads(headline_file.read_text())
    location = str(headline.get("html" if name == "report.html" else "json", ""))
    if not location.startswith("s3://"):
        raise FileNotFoundError(location)
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    bucket, key = location[5:].split("/", 1)
    obj = S3Hook(aws_conn_id=headline.get("s3_conn_id")).get_key(key, bucket_name=bucket)
    return obj.get()["Body"].read()
