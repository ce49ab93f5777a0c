"""What the scores commands (``reproduce``, ``served``, ``runs``) share: a model's spec, its scores table and
database, and the recorded logical date a typed date names."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_mlops.cli.dates import LogicalDate
    from airflow_mlops.hooks.scores_db import ScoresDbHook
    from airflow_mlops.scoring.table import ScoresTable


def add_model_args(p: argparse.ArgumentParser, *, logical_date_required: bool = False) -> None:
    """The arguments every scores command takes: MODEL, ``--spec``, ``--conn-id`` (and ``--logical-date``)."""
    from airflow_mlops.cli.dates import logical_date

    p.add_argument("model", metavar="MODEL", help="model name (spec model.name)")
    if logical_date_required:
        p.add_argument(
            "--logical-date",
            required=True,
            type=logical_date,
            metavar="DATE",
            help="logical date of the scoring run: ISO 8601 (UTC if naive; a date alone: that day's run) or 'latest'",
        )
    p.add_argument("--spec", help="model spec (default: dags/MODEL.yaml of the project)")
    p.add_argument("--conn-id", help="scores database connection (default: the spec's scoring.destination.conn_id)")


class ModelNotFound(LookupError):
    """No spec for the model, or a spec for another model."""


class ScoresDbError(RuntimeError):
    """The scores database cannot be opened or read; the message names the connection."""


@contextmanager
def reading(db: ScoresDbHook) -> Iterator[None]:
    """Database errors of the block as :class:`ScoresDbError` naming ``db``'s connection id."""
    import sqlite3

    try:
        yield
    except Exception as exc:
        psycopg = sys.modules.get("psycopg")  # imported by the hook only for a PostgreSQL connection
        if not isinstance(exc, (sqlite3.Error, psycopg.Error) if psycopg else sqlite3.Error):
            raise
        detail = " ".join(str(exc).split())
        raise ScoresDbError(f"scores database {db.scores_conn_id!r} ({db.dialect}): {detail}") from None


def find_spec(model: str, explicit: str | None) -> Path:
    """``explicit``, or ``dags/MODEL.yaml`` of ``$AIRFLOW_MLOPS_PROJECT``, the working folder or this project."""
    if explicit:
        return Path(explicit)
    roots = [Path(os.environ["AIRFLOW_MLOPS_PROJECT"])] if os.environ.get("AIRFLOW_MLOPS_PROJECT") else []
    roots += [Path.cwd(), Path(__file__).resolve().parents[2]]
    roots = list(dict.fromkeys(r.resolve() for r in roots))
    for root in roots:
        for suffix in (".yaml", ".yml"):
            if (root / "dags" / f"{model}{suffix}").is_file():
                return root / "dags" / f"{model}{suffix}"
    folders = ", ".join(str(r / "dags") for r in roots)
    raise ModelNotFound(f"unknown model {model!r}: no spec dags/{model}.yaml under {folders}; pass --spec")


def open_scores(model: str, spec_path: str | None, conn_id: str | None) -> tuple[Any, ScoresTable, ScoresDbHook]:
    """``(spec, scores table, scores database hook)`` of ``model``."""
    from airflow_mlops.hooks.scores_db import ScoresDbHook
    from airflow_mlops.scoring.table import ScoresTable
    from airflow_mlops.spec import load_spec

    path = find_spec(model, spec_path)
    spec = load_spec(path)
    if spec.model.name != model:
        raise ModelNotFound(f"spec {path} is for model {spec.model.name!r}, not {model!r}")
    table = ScoresTable(spec.scoring.destination.table, spec.features.entity, spec.features.timestamp)
    return spec, table, ScoresDbHook(conn_id or spec.scoring.destination.conn_id)


def stored_time(value: Any) -> datetime:
    """A stored timestamp (datetime from PostgreSQL, ISO text from SQLite) as an aware UTC datetime."""
    from airflow_mlops.scoring.table import utc

    return utc(value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00")))


def pick_date(db: ScoresDbHook, table: ScoresTable, model: str, wanted: LogicalDate) -> datetime:
    """The recorded logical date ``wanted`` names (a note on stderr when it is not the one typed); raises
    :class:`~airflow_mlops.cli.dates.DateNotRecorded` listing the candidates otherwise."""
    from airflow_mlops.cli.dates import resolve

    with reading(db):
        runs = db.runs(table, model, None, include_superseded=True)
    recorded = [stored_time(r["logical_date"]) for r in runs]
    when, note = resolve(wanted, recorded, f"{model} in {table.name}")
    if note:
        print(f"{model}: {note}", file=sys.stderr)
    return when
