"""``airflow-mlops runs MODEL``: the score runs recorded for a model, by logical date.

One line per run, newest logical date first: logical date, role (``champion``; ``challenger`` for shadow
scoring), model version, rows, score run id, DAG run, and whether it is the current run of its date or was
superseded by a later one. These are the dates ``reproduce`` and ``served`` take (``--logical-date``).
Exit 1 when nothing was scored for the model.
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
        "runs",
        help="list the recorded score runs of a model by logical date (the dates reproduce and served take)",
        description=__doc__.split("\n\n", 1)[1],
        epilog="examples:\n"
        "  airflow-mlops runs ride_demand\n"
        "  airflow-mlops runs ride_demand --since 2024-06-01 --current\n"
        "  airflow-mlops runs ride_demand --last 7 --json",
    )
    add_model_args(p)
    p.add_argument("--since", type=instant, metavar="DATE", help="only logical dates from DATE on (ISO 8601)")
    p.add_argument("--until", type=instant, metavar="DATE", help="only logical dates up to DATE (ISO 8601)")
    p.add_argument("--last", type=_positive, metavar="N", help="only the N newest logical dates")
    p.add_argument("--current", action="store_true", help="only the current run of each date and role")
    p.add_argument("--json", action="store_true", help="print JSON (one object per run)")
    p.set_defaults(handler=run)


def _positive(text: str) -> int:
    if not text.strip().isdigit() or not 0 < int(text) <= 1_000_000:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return int(text)


def select(runs: list[dict[str, Any]], args: argparse.Namespace) -> list[dict[str, Any]]:
    """The runs the options ask for (``runs`` come newest date first, each with ``when``: its logical date)."""
    picked = [
        r
        for r in runs
        if (args.since is None or r["when"] >= args.since)
        and (args.until is None or r["when"] <= args.until)
        and (r["is_current"] or not args.current)
    ]
    if args.last:
        dates = sorted({r["when"] for r in picked}, reverse=True)[: args.last]
        picked = [r for r in picked if r["when"] in dates]
    return picked


def run(args: argparse.Namespace) -> int:
    from airflow_mlops.cli._scores import open_scores, reading, stored_time
    from airflow_mlops.cli.dates import show

    _spec, table, db = open_scores(args.model, args.spec, args.conn_id)
    with reading(db):
        runs = db.runs(table, args.model, None, include_superseded=True)
    for r in runs:
        r["when"] = stored_time(r["logical_date"])
    runs = select(runs, args)
    if args.json:
        keep = ("score_run_id", "role", "model_version", "rows", "is_current", "dag_run_id", "scored_at")
        rows = [{"logical_date": show(r["when"]), **{k: r[k] for k in keep}} for r in runs]
        print(json.dumps(rows, default=lambda v: v.isoformat() if hasattr(v, "isoformat") else str(v)))
        return 0 if runs else 1
    if not runs:
        print(f"no score runs recorded for {args.model} in {table.name} (with these options)", file=sys.stderr)
        return 1
    print(f"{'logical date (UTC)':28} {'role':10} {'version':>7} {'rows':>9}  {'state':10} {'score run':32}  dag run")
    for r in runs:
        state = "current" if r["is_current"] else "superseded"
        print(
            f"{show(r['when']):28} {r['role']:10} {r['model_version']:>7} {r['rows']:>9}  {state:10} "
            f"{r['score_run_id'] or '-':32}  {r['dag_run_id']}"
        )
    return 0
