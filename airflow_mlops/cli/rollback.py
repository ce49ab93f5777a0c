"""``airflow-mlops rollback MODEL --to-version N --reason TEXT``: re-point ``champion`` in one step."""

from __future__ import annotations

import argparse
import getpass
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "rollback",
        help="point the champion alias of MODEL at an earlier version",
        description="Re-point an alias (default champion) after checking the version exists and can be "
        "loaded and predict in a fresh process; the move is recorded in the alias history.",
    )
    p.add_argument("model")
    p.add_argument("--to-version", required=True, type=int, metavar="N")
    p.add_argument("--reason", required=True)
    p.add_argument("--alias", default="champion")
    p.add_argument("--sample", help="parquet of real input for the servability check (default: newest dataset)")
    p.add_argument("--mlflow-conn-id", default="mlflow_default")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from airflow_mlops.hooks.mlflow import MLflowHook
    from airflow_mlops.promotion.rollback import RollbackError, rollback

    hook = MLflowHook(args.mlflow_conn_id)
    try:
        move = rollback(
            hook.get_conn(),
            hook.tracking_uri,
            args.model,
            args.to_version,
            args.reason,
            alias=args.alias,
            who=f"cli:{getpass.getuser()}",
            sample=args.sample,
        )
    except RollbackError as exc:
        print(f"rollback refused: {exc}", file=sys.stderr)
        return 1
    print(f"{args.model}@{args.alias}: {move.previous_version or '-'} → {args.to_version} ({move.status})")
    return 0 if move.status in ("applied", "unchanged") else 1
