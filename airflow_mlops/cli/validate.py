"""``airflow-mlops validate PATH...``: check specs outside Airflow."""

from __future__ import annotations

import argparse
import sys

from airflow_mlops.spec import SpecError, find_specs, load_spec


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "validate",
        help="validate model specs (files or folders)",
        description="Validate YAML model specs. Exit 0 when all are valid, 1 with one line per problem otherwise.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="spec files or folders searched for *.yaml/*.yml")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    specs = find_specs(args.paths)
    if not specs:
        print(f"no spec files (*.yaml, *.yml) under {' '.join(args.paths)}", file=sys.stderr)
        return 1
    failed = 0
    for path in specs:
        try:
            spec = load_spec(path)
        except SpecError as exc:
            failed += 1
            for problem in exc.problems:
                print(problem, file=sys.stderr)
        else:
            print(f"{path}: ok ({spec.model.name}, {spec.model.task}, DAGs {', '.join(spec.dag_ids.values())})")
    if failed:
        print(f"{failed} of {len(specs)} spec(s) invalid", file=sys.stderr)
    return 1 if failed else 0
