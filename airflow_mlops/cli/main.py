"""The ``airflow-mlops`` command line: one module per subcommand, listed in :data:`COMMANDS`."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

FIRST = ("validate", "schema", "stub", "demo")


def command_modules() -> list[str]:
    """Every module of this package with a ``register(subparsers)`` function: one per subcommand.

    Subcommand modules import heavy libraries inside their handlers only, so ``--help`` stays fast.
    """
    import airflow_mlops.cli as package

    names = [m.name for m in pkgutil.iter_modules(package.__path__) if m.name not in ("main", "__init__")]
    names.sort(key=lambda n: (FIRST.index(n) if n in FIRST else len(FIRST), n))
    return [f"airflow_mlops.cli.{n}" for n in names]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="airflow-mlops",
        description="YAML model specs → Airflow DAGs for batch ML: Feast features, Great Expectations "
        "checks, MLflow training and registry, rule-based promotion, batch scoring, Evidently monitoring.",
    )
    from airflow_mlops import __version__

    parser.add_argument("--version", action="version", version=f"airflow-mlops {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in command_modules():
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    return int(args.handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
