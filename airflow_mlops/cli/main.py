"""The ``airflow-mlops`` command line: one module per subcommand, listed in :data:`COMMANDS`."""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = (
    "airflow_mlops.cli.validate",
    "airflow_mlops.cli.schema",
    "airflow_mlops.cli.stub",
    "airflow_mlops.cli.demo",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="airflow-mlops",
        description="YAML model specs → Airflow DAGs for batch ML: Feast features, Great Expectations "
        "checks, MLflow training and registry, rule-based promotion, batch scoring, Evidently monitoring.",
    )
    from airflow_mlops import __version__

    parser.add_argument("--version", action="version", version=f"airflow-mlops {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    return int(args.handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
