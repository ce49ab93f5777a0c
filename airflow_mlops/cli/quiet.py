"""A command prints its result, not the chatter of the libraries it uses.

Without this, ``reproduce`` printed ~1,160 lines before its verdict: skops scans every loaded module and trips
Airflow's deprecated-attribute aliases once per name, and Airflow routes each Python warning to a log line
on stdout. :func:`quiet` silences Python warnings raised outside airflow_mlops (unless the user asked for
them with ``python -W`` or ``PYTHONWARNINGS``), sets Airflow's log level to WARNING for the command (unless
``AIRFLOW__LOGGING__LOGGING_LEVEL`` is set), turns off MLflow's download progress bars and quiets chatty
library loggers. Everything is restored when the command returns, so in-process callers (tests) keep theirs.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

NOISY_LOGGERS = ("great_expectations", "great_expectations._docs_decorators", "alembic", "mlflow", "skops")

ENVIRONMENT = {
    "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",  # read when Airflow configures logging at its import
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",  # "Downloading artifacts: 100%|███" on stderr
    "GIT_PYTHON_REFRESH": "quiet",  # MLflow's git probe warns when git is missing
}


@contextmanager
def quiet(*, debug: bool = False, libraries: bool = True) -> Iterator[None]:
    """Silence third-party warnings (and, with ``libraries``, library logs below WARNING) for the block.

    ``debug`` keeps the log levels and environment as they are (warnings stay governed by ``-W``).
    """
    with warnings.catch_warnings():
        if not sys.warnoptions:  # python -W / PYTHONWARNINGS: the user's filters win
            warnings.simplefilter("ignore")
            warnings.filterwarnings("default", module=r"airflow_mlops(\.|$)")
        if debug or not libraries:
            yield
            return
        with _environment(ENVIRONMENT), _logger_levels(NOISY_LOGGERS):
            yield


@contextmanager
def _environment(defaults: dict[str, str]) -> Iterator[None]:
    """Set the variables of ``defaults`` the user did not set; unset them again afterwards."""
    added = [name for name in defaults if name not in os.environ]
    for name in added:
        os.environ[name] = defaults[name]
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)


@contextmanager
def _logger_levels(names: tuple[str, ...], level: int = logging.WARNING) -> Iterator[None]:
    """Raise the named stdlib loggers to at least ``level``; restore their levels afterwards."""
    loggers = [logging.getLogger(name) for name in names]
    before = [lg.level for lg in loggers]
    for lg in loggers:
        if lg.level < level:  # NOTSET too: Airflow sets the root logger to INFO when it is imported
            lg.setLevel(level)
    try:
        yield
    finally:
        for lg, old in zip(loggers, before, strict=True):
            lg.setLevel(old)
