"""``airflow-mlops history MODEL [--at DATE | --reconcile]``: alias moves of a model, which version served at a
time, and repair of the history from MLflow's current aliases."""

from __future__ import annotations

import argparse
import json
import sys

from airflow_mlops.cli.dates import end_of_day_instant


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "history",
        help="alias history of a model (promotions, rollbacks); which version served at a date",
        description="List every recorded alias move of MODEL. With --at, print the version the alias "
        "pointed to at that time (a date alone means the end of that day, UTC).",
        epilog="examples:\n"
        "  airflow-mlops history ride_demand\n"
        "  airflow-mlops history ride_demand --at 2026-03-01\n"
        "  airflow-mlops history ride_demand --alias challenger --json\n"
        "  airflow-mlops history ride_demand --reconcile   # after a move made in the MLflow UI",
    )
    p.add_argument("model")
    p.add_argument("--alias", default="champion")
    p.add_argument(
        "--at",
        type=end_of_day_instant,
        metavar="TIME",
        help="ISO date or datetime, e.g. 2026-03-01 (end of that day, UTC) or 2026-03-01T12:00+00:00",
    )
    p.add_argument(
        "--reconcile",
        action="store_true",
        help="repair the history from MLflow's current aliases: resolve pending moves, record moves without a row",
    )
    p.add_argument("--mlflow-conn-id", default="mlflow_default", help="MLflow connection (for --reconcile)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from airflow_mlops.promotion.history import AliasHistory

    if args.reconcile:
        return reconcile(args)
    history = AliasHistory()
    if args.at:
        at = args.at
        row = history.serving_at(args.model, at, args.alias)
        if args.json:
            print(json.dumps({"model": args.model, "alias": args.alias, "at": at.isoformat(), "event": row}))
        elif row is None:
            print(f"{args.model}@{args.alias}: no version at {at.isoformat()}")
            return 1
        else:
            print(
                f"{args.model}@{args.alias} at {at.isoformat()}: version {row['version']} "
                f"(since {row['at']}, {row['action']}, reason: {row['reason'] or '-'}, by {row['who'] or '-'})"
            )
        return 0 if row else 1
    rows = history.events(args.model, args.alias)
    if args.json:
        print(json.dumps(rows))
        return 0
    if not rows:
        print(f"no alias history for {args.model}@{args.alias}", file=sys.stderr)
        return 1
    print(f"{'time (UTC)':32} {'action':9} {'status':9} {'version':>7} {'previous':>8}  who / dag run / reason")
    for r in rows:
        print(
            f"{r['at']:32} {r['action']:9} {r['status']:9} {r['version'] or '-':>7} {r['previous_version'] or '-':>8}  "
            f"{r['who'] or '-'} / {r['dag_run_id'] or '-'} / {r['reason'] or '-'}"
        )
    return 0


def reconcile(args: argparse.Namespace) -> int:
    """Repair the history of ``args.model`` from MLflow; prints each change."""
    from airflow_mlops.hooks.mlflow import MLflowHook
    from airflow_mlops.promotion.history import AliasHistory

    changes = AliasHistory(hook=MLflowHook(args.mlflow_conn_id)).reconcile(args.model)
    if args.json:
        print(json.dumps(changes))
        return 0
    for c in changes:
        print(f"{args.model}@{c['alias']}: row {c['id']} {c['status']} (version {c['version'] or '-'}): {c['detail']}")
    print(f"{args.model}: history matches MLflow ({len(changes)} change{'s' if len(changes) != 1 else ''})")
    return 0
