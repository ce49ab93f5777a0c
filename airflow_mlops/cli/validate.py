"""``airflow-mlops validate PATH...``: check specs outside Airflow, deeper than a DAG parse can.

Every check a DAG parse makes (schema, policy, columns, schedules) runs here too; ``--deep`` (the
default) adds what only a run would find: the estimator and its params with scikit-learn, the rule
files, the Feast repo's definitions and a smoke fit on synthetic rows (see :mod:`airflow_mlops.spec.deep`).
"""

from __future__ import annotations

import argparse
import sys
import time

from airflow_mlops.spec import SpecError, SpecProblem, find_specs, load_spec


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "validate",
        help="validate model specs (files or folders)",
        description="Validate YAML model specs. Exit 0 when all are valid, 1 with one line per problem otherwise.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="spec files or folders searched for *.yaml/*.yml")
    p.add_argument(
        "--deep",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also check the estimator and params (scikit-learn), rule files, the Feast repo and a smoke fit "
        "(default; --no-deep checks only what a DAG parse checks)",
    )
    p.add_argument("--no-fit", dest="fit", action="store_false", help="deep checks without the smoke fit")
    p.set_defaults(handler=run)


def check(path, *, deep: bool = True, fit: bool = True) -> tuple[object | None, list[SpecProblem]]:
    """(the spec or None, every problem of the spec file at ``path``)."""
    try:
        spec = load_spec(path)
    except SpecError as exc:
        return None, list(exc.problems)
    if not deep:
        return spec, []
    from airflow_mlops.spec.deep import deep_problems

    return spec, deep_problems(spec, path, fit=fit)


def run(args: argparse.Namespace) -> int:
    specs = find_specs(args.paths)
    if not specs:
        print(f"no spec files (*.yaml, *.yml) under {' '.join(args.paths)}", file=sys.stderr)
        return 1
    failed = 0
    started = time.monotonic()
    for path in specs:
        spec, problems = check(path, deep=args.deep, fit=args.fit)
        if problems:
            failed += 1
            for problem in problems:
                print(problem, file=sys.stderr)
        else:
            print(f"{path}: ok ({spec.model.name}, {spec.model.task}, DAGs {', '.join(spec.dag_ids.values())})")
    if args.deep:
        print(f"deep checks of {len(specs)} spec(s) in {time.monotonic() - started:.1f}s", file=sys.stderr)
    if failed:
        print(f"{failed} of {len(specs)} spec(s) invalid", file=sys.stderr)
    return 1 if failed else 0
