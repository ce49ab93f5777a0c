"""The model overview page: one HTML document, no script (plots are inline SVG), every value escaped.

Links are relative to ``/mlops-reports/overview`` (reports) or root-relative (the Airflow UI's DAG pages).
"""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any

from airflow_mlops.plugins.charts import line_chart
from airflow_mlops.plugins.overview import ModelOverview

STYLE = (
    "body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:.5em 0 1.5em}"
    "td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;font-size:13px}section{margin-bottom:3em}"
    ".serving{font-size:1.2em}.ok{color:#1b5e20}.bad{color:#b00020;font-weight:bold}.muted{color:#777}"
    ".plots{display:flex;flex-wrap:wrap;gap:1em}figure{margin:0}figcaption{font-size:13px;color:#555}"
    ".err{color:#b00020}nav a{margin-right:1em}"
    "form.rollback{border:1px solid #ccc;padding:.6em;display:inline-block}.note{background:#e8f5e9;padding:.5em}"
)


def esc(value: Any) -> str:
    if value is None or value == "":
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    return html.escape(str(value))


def _v(version: Any) -> str:
    return f"v{esc(version)}" if version else "–"


def _figure(caption: str, svg: str) -> str:
    return f"<figure><figcaption>{esc(caption)}</figcaption>{svg}</figure>"


def _when(stamp: Any) -> str:
    return esc(str(stamp)[:19].replace("T", " ") + " UTC") if stamp else "–"


def render(views: list[ModelOverview], may_trigger: dict[str, bool], notice: str = "") -> str:
    """The whole page: a summary table of every model, then one section per model."""
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>Model overview</title>"
        f"<style>{STYLE}</style></head><body><h1>Model overview</h1>",
        f"<p class='note'>{html.escape(notice)}</p>" if notice else "",
        "<p><a href='./'>All monitoring reports</a></p>",
    ]
    if not views:
        parts.append("<p>No models you may read: no spec in the DAGs folder and no monitoring reports.</p>")
    else:
        parts.append(_summary(views))
    parts += [_section(v, may_trigger.get(v.model, False)) for v in views]
    parts.append("</body></html>")
    return "".join(parts)


def _health(view: ModelOverview) -> str:
    latest = view.reports[0] if view.reports else None
    if latest is None:
        return "<span class='muted'>no report yet</span>"
    drift = (latest.get("drift") or {}).get("detected")
    return "<span class='bad'>drift</span>" if drift else "<span class='ok'>no drift</span>"


def _summary(views: list[ModelOverview]) -> str:
    rows = []
    for v in views:
        serving = v.serving or {}
        rows.append(
            f"<tr data-model='{esc(v.model)}'><td><a href='#{esc(v.model)}'>{esc(v.model)}</a></td>"
            f"<td class='serving-version'>{'v' + esc(serving.get('version')) if serving else '–'}</td>"
            f"<td>{_when(serving.get('at'))}</td><td>{'v' + esc(v.mlflow_champion) if v.mlflow_champion else '–'}</td>"
            f"<td>{_health(v)}</td></tr>"
        )
    return (
        "<table id='summary'><tr><th>model</th><th>serving (history)</th><th>since</th>"
        "<th>MLflow champion</th><th>latest monitoring</th></tr>" + "".join(rows) + "</table>"
    )


def _section(v: ModelOverview, may_trigger: bool) -> str:
    m = esc(v.model)
    dag_links = " ".join(f"<a href='/dags/{m}__{s}'>{m}__{s}</a>" for s in ("train", "score", "monitor", "rollback"))
    parts = [f"<section id='{m}'><h2>{m}</h2><nav>DAGs: {dag_links}</nav>", _serving(v)]
    parts += [f"<p class='err'>{esc(k)}: {esc(e)}</p>" for k, e in v.errors.items()]
    parts += [_plots(v), _history(v), _versions(v), _scores(v), _rollback(v, may_trigger), "</section>"]
    return "".join(parts)


def _serving(v: ModelOverview) -> str:
    s = v.serving
    if not s:
        text = "No champion recorded yet."
    else:
        text = (
            f"Serving <b class='version'>v{esc(s.get('version'))}</b> since {_when(s.get('at'))} "
            f"({esc(s.get('action'))} by {esc(s.get('who'))}: {esc(s.get('reason'))})."
        )
    if s and v.mlflow_champion and v.mlflow_champion != str(s.get("version")):
        text += (
            f" <span class='bad'>MLflow's champion is v{esc(v.mlflow_champion)}: "
            f"run <code>airflow-mlops history {esc(v.model)} --reconcile</code>.</span>"
        )
    latest = v.reports[0] if v.reports else None
    if latest:
        base = f"{esc(v.model)}/{esc(latest.get('report_id'))}"
        text += f" Latest report: <a href='{base}/report.html'>{esc(latest.get('report_id'))}</a>."
    return f"<p class='serving'>{text}</p>"


def _plots(v: ModelOverview) -> str:
    reports = v.reports[::-1]  # oldest first
    labels = [_day(str(h.get("report_id", ""))) for h in reports]
    shares = [(h.get("drift") or {}).get("share") for h in reports]
    threshold = next(((h.get("drift") or {}).get("threshold") for h in reversed(reports)), None)
    drift = line_chart(f"{v.model}: drifted column share", labels, [("drift share", shares)], threshold=threshold)
    names = sorted({k for h in reports for k in (h.get("quality") or {})})
    quality_series = [(n, [(h.get("quality") or {}).get(n) for h in reports]) for n in names[:4]]
    quality = line_chart(f"{v.model}: live quality", labels, quality_series)
    days = sorted({r["day"] for r in v.scores})
    keys = sorted({(r["role"], r["version"]) for r in v.scores})
    rows = {(r["day"], r["role"], r["version"]): r["rows"] for r in v.scores}
    volume = [(f"{role} v{ver}", [rows.get((d, role, ver)) for d in days]) for role, ver in keys]
    scored = line_chart(f"{v.model}: rows scored per day", days, volume)
    figures = (
        _figure("Drifted column share per report (dashed: threshold)", drift),
        _figure("Live quality per report", quality),
        _figure("Rows scored per day, role and version", scored),
    )
    return f"<div class='plots'>{''.join(figures)}</div>"


def _day(report_id: str) -> str:
    """``20260301T060000Z`` → ``2026-03-01``."""
    return f"{report_id[:4]}-{report_id[4:6]}-{report_id[6:8]}" if len(report_id) >= 8 else report_id


def _history(v: ModelOverview) -> str:
    if not v.history:
        return "<h3>Champion history</h3><p class='muted'>No alias moves recorded.</p>"
    rows = "".join(
        f"<tr><td>{_when(e.get('at'))}</td><td>{esc(e.get('action'))}</td><td>{esc(e.get('status'))}</td>"
        f"<td>{_v(e.get('previous_version'))} → {_v(e.get('version'))}</td><td>{esc(e.get('who'))}</td>"
        f"<td>{esc(e.get('reason'))}</td><td>{esc(e.get('dag_run_id'))}</td></tr>"
        for e in v.history
    )
    return (
        "<h3>Champion history</h3><table class='history'><tr><th>at</th><th>action</th><th>status</th>"
        f"<th>move</th><th>who</th><th>why</th><th>DAG run</th></tr>{rows}</table>"
    )


def _versions(v: ModelOverview) -> str:
    if not v.versions:
        return "<h3>Versions</h3><p class='muted'>No registered versions.</p>"
    names = list(dict.fromkeys(k for r in v.versions for k in r["metrics"]))
    rows = []
    for r in v.versions:
        run = f"<a href='{esc(r['run_url'])}'>MLflow run</a>" if r.get("run_url") else "–"
        metrics = "".join(f"<td>{esc(r['metrics'].get(n))}</td>" for n in names)
        rows.append(
            f"<tr><td>v{esc(r['version'])}</td><td>{esc(r.get('alias'))}</td><td>{esc(r.get('created'))}</td>"
            f"{metrics}<td>{esc(r.get('gate'))}</td><td>{esc(r.get('gate_reason'))}</td><td>{run}</td></tr>"
        )
    head = "".join(f"<th>{esc(n)}</th>" for n in names)
    return (
        "<h3>Versions</h3><table class='versions'><tr><th>version</th><th>alias</th><th>registered</th>"
        f"{head}<th>gate</th><th>gate reason</th><th></th></tr>{''.join(rows)}</table>"
    )


def _scores(v: ModelOverview) -> str:
    if not v.scores:
        return "<h3>Scored rows</h3><p class='muted'>Nothing scored yet.</p>"
    rows = "".join(
        f"<tr><td>{esc(r['day'])}</td><td>{esc(r['role'])}</td><td>v{esc(r['version'])}</td><td>{r['rows']}</td></tr>"
        for r in sorted(v.scores, key=lambda r: (r["day"], r["role"]), reverse=True)
    )
    return (
        "<h3>Scored rows per day (current runs)</h3><table class='scores'><tr><th>day</th><th>role</th>"
        f"<th>version</th><th>rows</th></tr>{rows}</table>"
    )


def _rollback(v: ModelOverview, may_trigger: bool) -> str:
    m = esc(v.model)
    if not may_trigger:
        return f"<p class='muted'>You may not trigger {m}__rollback.</p>"
    options = "".join(
        f"<option value='{esc(r['version'])}'>v{esc(r['version'])}</option>"
        for r in v.versions
        if r.get("alias") != "champion"
    )
    field = (
        f"<select name='version' required>{options}</select>"
        if options
        else "<input name='version' type='number' min='1' required>"
    )
    return (
        f"<h3>Roll back</h3><form class='rollback' method='post' action='overview/rollback'>"
        f"<input type='hidden' name='model' value='{m}'>"
        f"<label>version {field}</label> <label>reason <input name='reason' required maxlength='500' size='40'>"
        f"</label> <button type='submit'>Trigger {m}__rollback</button></form>"
    )
