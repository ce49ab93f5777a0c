"""The ``airflow-mlops`` command line: one module per subcommand, listed in :data:`COMMANDS`.

Every command prints its result and nothing else: third-party warnings and library logs below WARNING are
silenced (:mod:`airflow_mlops.cli.quiet`), and an error is one line on stderr with a non-zero exit code.
``--debug`` (or ``AIRFLOW_MLOPS_DEBUG=1``) shows library logs and the traceback of an error.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys

FIRST = ("validate", "schema", "stub", "demo")
PASSTHROUGH = ("demo",)  # its Airflow child processes keep the caller's logging (it reads their INFO lines)
TRUE = ("1", "true", "yes")
DEBUG_HELP = "show library logs and the traceback of an error (also AIRFLOW_MLOPS_DEBUG=1)"

# Errors with a message meant for the user: ``(module, class)``, matched only once their module is imported.
KNOWN_ERRORS = (
    ("airflow_mlops.spec.errors", "SpecError"),
    ("airflow_mlops.cli._scores", "ModelNotFound"),
    ("airflow_mlops.cli._scores", "ScoresDbError"),
    ("airflow_mlops.cli.dates", "DateNotRecorded"),
    ("airflow_mlops.hooks.connections", "ConnectionLookupError"),
    ("airflow_mlops.hooks.model_artifact", "ModelArtifactError"),
    ("airflow_mlops.scoring.table", "UnsafeIdentifier"),
    ("airflow_mlops.scoring.writers", "ReplaceRefused"),
    ("airflow_mlops.promotion.rollback", "RollbackError"),
    ("airflow_mlops.promotion.rollback", "RollbackFailed"),
    ("airflow_mlops.validation.errors", "DataError"),
    ("mlflow.exceptions", "MlflowException"),
    ("sqlite3", "Error"),
    ("psycopg", "Error"),
    ("sqlalchemy.exc", "SQLAlchemyError"),
    ("builtins", "OSError"),
)


EXAMPLES = {  # for commands whose module has no epilog of its own
    "validate": "examples:\n  airflow-mlops validate dags/\n  airflow-mlops validate dags/ride_demand.yaml --no-deep",
    "schema": "examples:\n  airflow-mlops schema > spec.schema.json",
    "stub": "examples:\n  airflow-mlops stub dags/",
    "demo": "examples:\n  airflow-mlops demo\n  airflow-mlops demo --models ride_demand --no-drift",
    "check-data": "examples:\n  airflow-mlops check-data dags/ride_demand.yaml data/rides.parquet\n"
    "  airflow-mlops check-data dags/ride_demand.yaml rides.csv --purpose score --quarantine bad.parquet --strict",
    "report": "examples:\n  airflow-mlops report ride_demand\n  airflow-mlops report ride_demand -n 5 --json",
}


class Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line on stderr (exit 2), pointing at ``--help``."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")

    def format_help(self) -> str:
        """Help with the description wrapped and the epilog (examples) kept line by line."""
        epilog, self.epilog = self.epilog, None
        try:
            text = super().format_help()
        finally:
            self.epilog = epilog
        return f"{text}\n{epilog}\n" if epilog else text


def command_modules() -> list[str]:
    """Every module of this package with a ``register(subparsers)`` function: one per subcommand.

    Subcommand modules import heavy libraries inside their handlers only, so ``--help`` stays fast.
    """
    import airflow_mlops.cli as package

    skip = ("main", "dates", "quiet")  # helpers, not commands (so are private modules)
    names = [m.name for m in pkgutil.iter_modules(package.__path__) if m.name not in skip and m.name[0] != "_"]
    names.sort(key=lambda n: (FIRST.index(n) if n in FIRST else len(FIRST), n))
    return [f"airflow_mlops.cli.{n}" for n in names]


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="airflow-mlops",
        description="YAML model specs → Airflow DAGs for batch ML: Feast features, Great Expectations "
        "checks, MLflow training and registry, rule-based promotion, batch scoring, Evidently monitoring.",
        epilog="Run 'airflow-mlops COMMAND --help' for a command's options and examples. Python warnings of "
        "libraries are silenced unless PYTHONWARNINGS (or python -W) is set.",
    )
    from airflow_mlops import __version__

    parser.add_argument("--version", action="version", version=f"airflow-mlops {__version__}")
    parser.add_argument(
        "--debug",
        action="store_true",
        default=os.environ.get("AIRFLOW_MLOPS_DEBUG", "").lower() in TRUE,
        help=DEBUG_HELP,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in command_modules():
        importlib.import_module(name).register(sub)
    for name, command in sub.choices.items():
        command.epilog = command.epilog or EXAMPLES.get(name)
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP)
    return parser


def known_error(exc: BaseException) -> bool:
    """Whether ``exc`` is one of :data:`KNOWN_ERRORS` (a message for the user, not a bug)."""
    for module, name in KNOWN_ERRORS:
        cls = getattr(sys.modules.get(module), name, None)
        if isinstance(cls, type) and isinstance(exc, cls):
            return True
    return False


def error_line(command: str, exc: BaseException) -> str:
    """One line for ``exc``: its message (credentials of URIs redacted), or its type for an unexpected error."""
    from airflow_mlops.redact import redact_text

    lines = [" ".join(line.split()) for line in str(exc).strip().splitlines() if line.strip()]
    multiline = type(exc).__name__ == "SpecError"  # one problem per line: file:line: field: message
    text = redact_text(("\n" if multiline else " ").join(lines)) or type(exc).__name__
    if known_error(exc):
        return f"airflow-mlops {command}: {text}"
    return f"airflow-mlops {command}: unexpected {type(exc).__name__}: {text} (run with --debug for the traceback)"


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    from airflow_mlops.cli.quiet import quiet

    argv = sys.argv[1:] if argv is None else list(argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    debug = "--debug" in argv or os.environ.get("AIRFLOW_MLOPS_DEBUG", "").lower() in TRUE
    # before the parser is built: building it imports Airflow, which configures its logging once
    with quiet(debug=debug, libraries=command not in PASSTHROUGH):
        args = build_parser().parse_args(argv)
        try:
            return int(args.handler(args) or 0)
        except KeyboardInterrupt:
            print(f"airflow-mlops {args.command}: interrupted", file=sys.stderr)
            return 130
        except Exception as exc:
            if args.debug:
                raise
            print(error_line(args.command, exc), file=sys.stderr)
            return 1


if __name__ == "__main__":
    sys.exit(main())
