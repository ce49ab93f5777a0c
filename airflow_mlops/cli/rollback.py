"""``airflow-mlops rollback MODEL --to-version N --reason TEXT``: re-point ``champion`` in one step.

The history records the OS user running the command (``<user> via cli``): the CLI talks to MLflow with the
connection's credentials, so there is no Airflow login to name. Use the rollback DAG (REST API or UI) to
record the authenticated Airflow user instead.
"""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "rollback",
        help="point the champion alias of MODEL at an earlier version",
        description="Re-point an alias (default champion) after checking the version exists and can be "
        "loaded and predict in a fresh process; the move is recorded in the alias history.",
        epilog="examples:\n"
        "  airflow-mlops rollback ride_demand --to-version 3 --reason 'v4 over-predicts weekends'\n"
        "  airflow-mlops rollback ride_demand --to-version 2 --alias challenger --reason 'bad shadow'\n"
        "  airflow-mlops history ride_demand   # the versions to choose from, and who moved what",
    )
    p.add_argument("model")
    p.add_argument("--to-version", required=True, type=int, metavar="N")
    p.add_argument("--reason", required=True, help="why (required, recorded in the alias history)")
    p.add_argument("--alias", default="champion", help="alias to move (default champion; e.g. challenger)")
    p.add_argument("--sample", help="parquet of real input for the servability check (default: newest dataset)")
    p.add_argument("--mlflow-conn-id", default="mlflow_default")
    p.set_defaults(handler=run)


def os_user() -> str:
    """The OS account running the command, from its real uid (not ``$USER``/``$LOGNAME``, which anyone sets)."""
    import os
    import pwd

    uid = os.getuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:  # a uid without a passwd entry (containers)
        return f"uid {uid}"


def run(args: argparse.Namespace) -> int:
    from airflow_mlops.hooks.mlflow import MLflowHook
    from airflow_mlops.promotion.rollback import RollbackError, RollbackFailed, check_request, rollback

    try:
        check_request(args.alias, args.reason)  # before any connection or registry is touched
    except RollbackError as exc:
        print(f"rollback refused: {' '.join(str(exc).split())}", file=sys.stderr)  # one line
        return 2
    hook = MLflowHook(args.mlflow_conn_id)
    try:
        move = rollback(
            hook,
            args.model,
            args.to_version,
            args.reason,
            alias=args.alias,
            who=f"{os_user()} via cli",
            sample=args.sample,
        )
    except RollbackError as exc:
        print(f"rollback refused: {' '.join(str(exc).split())}", file=sys.stderr)  # one line
        return 1
    except RollbackFailed as exc:
        print(f"rollback failed: {' '.join(str(exc).split())}", file=sys.stderr)  # one line
        return 1
    print(f"{args.model}@{args.alias}: {move.previous_version or '-'} → {args.to_version} ({move.status})")
    return 0 if move.status in ("applied", "unchanged") else 1
