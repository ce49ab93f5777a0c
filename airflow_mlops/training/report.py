"""The evaluation report: a JSON document and a self-contained HTML page of the comparison."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

from airflow_mlops.training.comparison import rows, slice_rows

SIDES = ["metric", "challenger", "champion", "delta", "winner"]
_STYLE = (
    "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
    "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}th{background:#f4f4f4}"
    ".challenger{background:#e6f4ea}.champion{background:#fdecea}td.l{text-align:left}"
)


def _fmt(value: Any) -> str:
    return "" if value is None else f"{value:.4f}" if isinstance(value, float) else escape(str(value))


def _table(items: list[dict[str, Any]], columns: list[str]) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = []
    for item in items:
        cells = "".join(
            f'<td class="l">{_fmt(item[c])}</td>'
            if c in ("column", "value", "metric", "winner")
            else f"<td>{_fmt(item[c])}</td>"
            for c in columns
        )
        body.append(f'<tr class="{escape(str(item.get("winner") or ""))}">{cells}</tr>')
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def render_html(doc: dict[str, Any]) -> str:
    """A small HTML page: verdict, window, overall table, slice table (from :func:`comparison_doc`)."""
    ch, champ = doc["challenger"], doc["champion"]
    overall, slices = doc["comparison"], doc["slice_comparison"]
    w = doc["window"]
    champion_text = f"version {escape(str(champ['version']))}" if champ else "none"
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(doc['model'])} evaluation</title>"
        f"<style>{_STYLE}</style></head><body>"
        f"<h1>{escape(doc['model'])}: challenger v{escape(str(ch['version']))} vs champion {champion_text}</h1>"
        f"<p>Better on the fresh window: <b>{escape(doc['better'])}</b>"
        f" (by {escape(doc['primary_metric'] or 'n/a')}).</p>"
        f"<p>Fresh window: {escape(w['by'])} from {escape(w['start'])} to {escape(w['end'])}, {w['rows']} rows.</p>"
        f"<h2>Overall</h2>{_table(overall, SIDES)}"
        f"<h2>Per slice</h2>{_table(slices, ['column', 'value', *SIDES])}"
        "</body></html>"
    )


def comparison_doc(
    model: str,
    challenger: dict[str, Any],
    champion: dict[str, Any] | None,
    window: dict[str, Any],
    better: str,
    primary_metric: str,
) -> dict[str, Any]:
    """Everything the report shows: both sides, the window, the verdict and the metric-by-metric tables."""
    return {
        "model": model,
        "challenger": challenger,
        "champion": champion,
        "window": window,
        "better": better,
        "primary_metric": primary_metric,
        "comparison": rows(challenger["metrics"], champion["metrics"] if champion else None),
        "slice_comparison": slice_rows(challenger["slice_metrics"], champion["slice_metrics"] if champion else None),
    }


def write_report(doc: dict[str, Any], folder: Path, stem: str) -> tuple[Path, Path]:
    """Write ``<stem>.json`` and ``<stem>.html`` under ``folder``; returns (html, json) paths."""
    folder.mkdir(parents=True, exist_ok=True)
    json_path = folder / f"{stem}.json"
    html_path = folder / f"{stem}.html"
    json_path.write_text(json.dumps(doc, indent=2, sort_keys=True, default=str))
    html_path.write_text(render_html(doc))
    return html_path, json_path
