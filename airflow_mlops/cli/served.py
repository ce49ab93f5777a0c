"""``airflow-mlops served MODEL --logical-date D``: every score run of a date, current and superseded.

Answers "what did we serve for D": each run that scored that logical date (model version, DAG run, input
dataset and sha256, rows, when it was scored and when a later run superseded it), newest first, from the
scores database's run table. With ``--as-of T``, only the runs that were current at T. With ``--rows``,
also the predictions of each run that are still kept (superseded rows live in ``<table>_superseded``
until retention purges them; run records are never deleted). Exit 1 when no run scored that date.
The date may be typed in any ISO 8601 form or as ``latest``; ``airflow-mlops runs MODEL`` lists the dates.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from airflow_mlops.cli._scores import add_model_args
from airflow_mlops.cli.dates import instant


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "served",
        help="what was served for a logical date: current and superseded score runs",
        description=__doc__.split("\n\n", 1)[1],
        epilog="examples:\n"
        "  airflow-mlops served ride_demand --logical-date latest\n"
        "  airflow-mlops served ride_demand --logical-date 2024-06-01 --as-of 2024-06-03T12:00Z\n"
        "  airflow-mlops served ride_demand --logical-date 2024-06-01 --role champion --rows --json",
    )
    add_model_args(p, logical_date_required=True)
    p.add_argument("--as-of", type=instant, metavar="TIME", help="only the runs current at this instant (ISO 8601)")
    p.add_argument("--role", choices=("champion", "challenger"), help="only this role")
    p.add_argument("--rows", action="store_true", help="also print each run's stored predictions")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=run)


def _text(value: Any) -> str:
    return "-" if value is None else value.isoformat() if hasattr(value, "isoformat") else str(value)


def run(args: argparse.Namespace) -> int:
    from airflow_mlops.cli._scores import open_scores, pick_date

    _spec, table, db = open_scores(args.model, args.spec, args.conn_id)
    logical_date = pick_date(db, table, args.model, args.logical_date)
    runs = db.served(table, args.model, logical_date, as_of=args.as_of)
    runs = [r for r in runs if args.role in (None, r["role"])]
    if args.rows:
        for r in runs:
            r["predictions"] = db.run_predictions(table, r) if r["rows_kept"] else None
    if args.json:
        print(json.dumps(runs, default=_text))
        return 0 if runs else 1
    when = f" as of {args.as_of.isoformat()}" if args.as_of else ""
    if not runs:
        print(f"no score runs for {args.model} at {logical_date.isoformat()}{when} in {table.name}", file=sys.stderr)
        return 1
    print(f"{args.model} at {logical_date.isoformat()}{when} ({table.name}):")
    for r in runs:
        state = "current" if r["is_current"] else f"superseded {_text(r['superseded_at'])} by {r['superseded_by']}"
        kept = "rows kept" if r["rows_kept"] else f"rows purged {_text(r['purged_at'])}"
        print(
            f"  {r['role']:10} version {r['model_version']:>4}  {state}\n"
            f"             scored {_text(r['scored_at'])} by DAG run {r['dag_run_id']}, {r['rows']} rows ({kept})\n"
            f"             input {r['dataset_path'] or '-'} sha256 {r['dataset_digest'] or '-'}; "
            f"score run {r['score_run_id']}"
        )
        for row_id, prediction, probability in (r.get("predictions") or [])[:20]:
            print(f"             row {row_id}: {prediction}" + ("" if probability is None else f" (p={probability})"))
        if len(r.get("predictions") or []) > 20:
            print(f"             … {len(r['predictions']) - 20} more (use --json for all)")
    return 0
