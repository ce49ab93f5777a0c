"""``airflow-mlops report MODEL``: the latest monitoring reports' paths and headline numbers."""

from __future__ import annotations

import argparse
import json
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="show a model's latest monitoring reports",
        description="Print the newest monitoring reports of MODEL (paths, drifted share, per-column drift, quality) "
        "and its recent retrain requests. Reads the MLOps home ($AIRFLOW_MLOPS_HOME).",
    )
    p.add_argument("model", metavar="MODEL", help="model name (spec model.name)")
    p.add_argument("-n", "--last", type=int, default=3, help="how many reports (default 3)")
    p.add_argument("--json", action="store_true", help="print the headlines as JSON")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from airflow_mlops.monitoring.ledger import Ledger
    from airflow_mlops.monitoring.store import list_reports

    reports = list_reports(args.model)[: max(args.last, 1)]
    if args.json:
        print(json.dumps(reports, indent=2, default=str))
        return 0 if reports else 1
    if not reports:
        print(f"no monitoring reports for {args.model}", file=sys.stderr)
        return 1
    for h in reports:
        print("\n".join(describe(h)))
        print()
    history = Ledger().history(args.model, limit=5)
    if history:
        print("recent retrain requests:")
        for r in history:
            print(f"  {r.requested_at:%Y-%m-%d %H:%M:%S} {r.reason:<12} {r.detail or ''}")
    return 0


def describe(h: dict) -> list[str]:
    """Lines for one report headline."""
    drift = h.get("drift") or {}
    lines = [
        f"report {h.get('report_id')} ({h.get('model')}, champion v{h.get('champion_version')})",
        f"  html: {h.get('html')}",
        f"  json: {h.get('json')}",
        f"  rows: reference {h.get('reference_rows')}, current {h.get('current_rows')}"
        + (f" (sampled to {h.get('sample_rows')} per side)" if h.get("sampled") else ""),
        f"  drifted share: {drift.get('share'):.2f} ({drift.get('count')} of {drift.get('columns')} columns; "
        f"threshold {drift.get('threshold'):.2f}) -> {'DRIFT' if drift.get('detected') else 'no drift'}",
    ]
    for column, s in sorted((drift.get("scores") or {}).items()):
        mark = "drifted" if s.get("drifted") else "ok"
        lines.append(f"    {column:<20} {s['score']:.4g} ({s['method']}, threshold {s['threshold']:.3g}) {mark}")
    pred = h.get("prediction_drift")
    if pred:
        lines.append(
            f"  prediction drift: {pred['score']:.4g} ({pred['method']}) {'drifted' if pred['drifted'] else 'ok'}"
        )
    quality = h.get("quality")
    if quality:
        values = ", ".join(f"{k}={v:.4g}" for k, v in quality.items())
        lines.append(f"  live quality ({h.get('labelled_rows')} labelled rows): {values}")
    else:
        lines.append("  live quality: no labels for the scored rows yet")
    return lines
