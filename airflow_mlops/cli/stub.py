"""``airflow-mlops stub DAGS_FOLDER``: give each spec its own DAG file."""

from __future__ import annotations

import argparse

from airflow_mlops.factory import write_stubs


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "stub",
        help="write a small DAG file beside each spec that has none",
        description="Write NAME.py beside each NAME.yaml in the dags folder, so Airflow reports a broken "
        "spec as that file's import error while every other DAG still loads. Not needed where the spec "
        "bundle (airflow_mlops.bundle.SpecDagBundle, docs/deploy.md) generates these files outside dags/.",
    )
    p.add_argument("folder", nargs="?", default="dags", help="dags folder (default: dags)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    written = write_stubs(args.folder)
    for stub in written:
        print(f"wrote {stub}")
    if not written:
        print("every spec already has its stub")
    return 0
