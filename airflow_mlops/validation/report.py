"""Validation reports: the gate outcome as JSON and as one self-contained HTML page.

A hand-written HTML table rather than GX Data Docs: one file that opens from a ``file://`` link or an
artifact store, shows our per-check messages, example values and the quarantine verdict, and needs
no GX site folder (Data Docs writes an index, per-run pages and static assets per site).
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow_mlops.validation.gate import GateOutcome

STATUS_COLOURS = {"passed": "#1e7e34", "quarantined": "#b36b00", "failed": "#b00020"}


def write_reports(outcome: GateOutcome, folder: Path, stem: str) -> tuple[Path, Path]:
    """Write ``<stem>.json`` and ``<stem>.html`` into ``folder``; return ``(html, json)`` paths."""
    folder.mkdir(parents=True, exist_ok=True)
    json_path, html_path = folder / f"{stem}.json", folder / f"{stem}.html"
    json_path.write_text(json.dumps(outcome.to_dict(), indent=2))
    html_path.write_text(render_html(outcome))
    return html_path, json_path


def render_html(outcome: GateOutcome) -> str:
    """The outcome as an HTML page: verdict, counts, then one table row per check."""
    r = outcome.result
    colour = STATUS_COLOURS[outcome.status]
    rows = []
    for c in r.checks:
        state = "error" if c.error else ("ok" if c.success else "failed")
        failed = "" if c.failed_rows is None else f"{c.failed_rows:,}"
        percent = "" if c.failed_percent is None else f"{c.failed_percent:.2f} %"
        examples = ", ".join(escape(repr(v) if isinstance(v, str) else str(v)) for v in c.examples[:5])
        rows.append(
            f'<tr class="{state}"><td>{escape(c.check.subject)}</td><td><code>{escape(c.check.expectation)}</code></td>'
            f"<td>{escape(c.check.level)}</td><td>{escape(c.check.describe())}</td><td>{state}</td>"
            f"<td class=num>{failed}</td><td class=num>{percent}</td><td>{examples}</td>"
            f"<td>{escape(c.message)}</td></tr>"
        )
    counts = (
        f"rows in {outcome.rows_in:,} · bad rows {outcome.bad_rows:,} · good rows {outcome.rows_good:,} · "
        f"quarantined {outcome.rows_quarantined:,} · policy {escape(outcome.policy)} · "
        f"max_bad_fraction {outcome.max_bad_fraction:.1%}"
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Validation {escape(r.name)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #222; }}
h1 {{ font-size: 1.4rem; }} .status {{ color: #fff; background: {colour}; padding: .2rem .6rem; border-radius: 4px; }}
table {{ border-collapse: collapse; width: 100%; font-size: .9rem; }}
th, td {{ border: 1px solid #ddd; padding: .35rem .5rem; text-align: left; vertical-align: top; }}
th {{ background: #f4f4f4; }} td.num {{ text-align: right; }}
tr.failed td {{ background: #fdecea; }} tr.error td {{ background: #fff4e5; }}
pre {{ background: #f7f7f7; padding: .8rem; white-space: pre-wrap; }}
</style></head><body>
<h1>Validation {escape(r.name)} <span class="status">{outcome.status.upper()}</span></h1>
<p>Run time {escape(str(r.run_time))} · {r.rows:,} rows · {len(r.checks)} checks · {len(r.failures)} failed ·
validated in {r.seconds:.2f} s (Great Expectations)</p>
<p>{counts}</p>
<p><strong>{escape(outcome.reason)}</strong></p>
<table><thead><tr><th>column</th><th>expectation</th><th>level</th><th>expects</th><th>result</th>
<th>failed rows</th><th>failed %</th><th>examples</th><th>message</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody></table>
<h2>Summary</h2><pre>{escape(outcome.summary())}</pre>
</body></html>
"""
