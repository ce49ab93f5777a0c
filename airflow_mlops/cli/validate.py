"""``airflow-mlops validate PATH...``: check specs outside Airflow, deeper than a DAG parse can.

Every check a DAG parse makes (schema, policy, columns, schedules) runs here too; ``--deep`` (the
default) adds what only a run would find: the estimator and its params with scikit-learn, the rule
files, the Feast repo's definitions and a smoke fit on synthetic rows (see :mod:`airflow_mlops.spec.deep`).
"""

from __future__ import annotations

import argparse
import sys
import time

from airflow_mlops.spec import ModelSpec, SpecError, SpecProblem, find_specs, load_spec
from airflow_mlops.spec.yamlsafe import MAX_BYTES, decode, read_yaml


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


def check(path, *, deep: bool = True, fit: bool = True) -> tuple[ModelSpec | None, list[SpecProblem]]:
    """(the spec or None, every problem of the spec file at ``path``).

    When the spec fits the schema but fails a load-time check (policy, columns), the deep checks still
    run, without the smoke fit, so that every problem is reported at once.
    """
    try:
        spec, problems = load_spec(path), []
    except SpecError as exc:
        spec, problems = _schema_only(path), list(exc.problems)
        fit = False
    if not deep or spec is None:
        return (None if problems else spec), problems
    from airflow_mlops.spec.deep import deep_problems

    seen = {(p.file, p.field) for p in problems}
    problems += [p for p in deep_problems(spec, path, fit=fit) if (p.file, p.field) not in seen]
    return (None if problems else spec), problems


def _schema_only(path) -> ModelSpec | None:
    """The spec at ``path`` validated by the schema alone, or None."""
    try:
        with open(path, "rb") as handle:
            data = read_yaml(decode(handle.read(MAX_BYTES + 1)))[0]
        return ModelSpec.model_validate(data)
    except Exception:
        return None


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
    mode = "deep" if args.deep else "load-time"
    print(f"{len(specs)} spec(s), {mode} checks in {time.monotonic() - started:.1f}s")
    if failed:
        print(f"{failed} of {len(specs)} spec(s) invalid", file=sys.stderr)
    return 1 if failed else 0
