"""Layout of a scores table (the prediction log) and of the run metadata table, for SQLite and PostgreSQL.

One row per scored input row and model role::

    row_id         position of the row in the scored input dataset (0-based)
    <entity>       entity key (BIGINT, or TEXT for string keys)
    <timestamp>    event timestamp of the feature row
    prediction     predicted value (regression) or predicted class (classification, as a number)
    probability    classifiers: probability of the positive class (binary) / of the predicted class; else NULL
    model_name, model_version, role ('champion'/'challenger'), mlflow_run_id, dag_run_id,
    logical_date, scored_at

Primary key ``(model_name, role, logical_date, row_id)``; index ``(model_name, logical_date)``.
Run metadata (which model version and which input dataset, by path and sha256, scored a date) goes to
``mlops_score_runs``, written in the same transaction as the scores; ``airflow-mlops reproduce`` reads it.

Identifiers are always quoted (never pasted); names that cannot be a column/table name are rejected.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

ROLES = ("champion", "challenger")
RUNS_TABLE = "mlops_score_runs"
FIXED_COLUMNS = (
    "row_id",
    "prediction",
    "probability",
    "model_name",
    "model_version",
    "role",
    "mlflow_run_id",
    "dag_run_id",
    "logical_date",
    "scored_at",
)
MAX_IDENTIFIER_BYTES = 63  # PostgreSQL silently truncates longer names: reject instead


class UnsafeIdentifier(ValueError):
    """A table or column name that cannot be used, even quoted."""


def check_identifier(name: str, what: str = "identifier") -> str:
    """``name`` when it can be used as a quoted SQL identifier; raises :class:`UnsafeIdentifier` otherwise."""
    if not isinstance(name, str) or not name:
        raise UnsafeIdentifier(f"{what} must be a non-empty string, got {name!r}")
    if "\x00" in name or any(ord(c) < 32 for c in name):
        raise UnsafeIdentifier(f"{what} {name!r} contains control characters")
    if len(name.encode()) > MAX_IDENTIFIER_BYTES:
        raise UnsafeIdentifier(f"{what} {name!r} is longer than {MAX_IDENTIFIER_BYTES} bytes")
    return name


def quote(name: str) -> str:
    """SQL-standard quoted identifier (``"`` doubled), valid for SQLite and PostgreSQL alike."""
    return '"' + check_identifier(name).replace('"', '""') + '"'


def utc(value: datetime) -> datetime:
    """``value`` as an aware UTC datetime (naive values are taken as UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def sqlite_time(value: datetime) -> str:
    """The canonical text form of a timestamp in SQLite: ISO 8601, UTC, microseconds (sorts correctly)."""
    return utc(value).strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


@dataclass(frozen=True)
class ScoresTable:
    """A scores table: its name, the entity and timestamp column names, and the entity key type."""

    name: str
    entity: str
    timestamp: str = "event_timestamp"
    entity_is_text: bool = False
    runs_table: str = RUNS_TABLE

    def __post_init__(self) -> None:
        check_identifier(self.name, "table name")
        check_identifier(self.runs_table, "runs table name")
        for what, col in (("entity column", self.entity), ("timestamp column", self.timestamp)):
            check_identifier(col, what)
            if col in FIXED_COLUMNS:
                raise UnsafeIdentifier(f"{what} {col!r} clashes with a column of the scores table")
        if self.entity == self.timestamp:
            raise UnsafeIdentifier(f"entity and timestamp columns are both {self.entity!r}")

    @property
    def columns(self) -> list[str]:
        """Column order of the table (and of every write)."""
        return ["row_id", self.entity, self.timestamp, *FIXED_COLUMNS[1:]]

    def column_types(self, dialect: str) -> list[str]:
        """SQL types, in :attr:`columns` order, for ``sqlite`` or ``postgres``."""
        if dialect == "postgres":
            entity = "TEXT" if self.entity_is_text else "BIGINT"
            return (
                ["BIGINT", entity, "TIMESTAMPTZ", "DOUBLE PRECISION", "DOUBLE PRECISION"]
                + ["TEXT"] * 5
                + [
                    "TIMESTAMPTZ",
                    "TIMESTAMPTZ",
                ]
            )
        entity = "TEXT" if self.entity_is_text else "INTEGER"
        return ["INTEGER", entity, "TEXT", "REAL", "REAL"] + ["TEXT"] * 7

    def create_sql(self, dialect: str, quote: Callable[[str], str] = quote) -> list[str]:
        """``CREATE TABLE/INDEX IF NOT EXISTS`` statements for the scores and the run metadata tables.

        ``quote`` quotes an identifier (PostgreSQL: ``psycopg.sql.Identifier``); the default doubles ``"``.
        """
        not_null = {"probability"}
        cols = ",\n  ".join(
            f"{quote(c)} {t}{'' if c in not_null else ' NOT NULL'}"
            for c, t in zip(self.columns, self.column_types(dialect), strict=True)
        )
        ts = "TIMESTAMPTZ" if dialect == "postgres" else "TEXT"
        index = quote(f"{self.name[:48]}_model_date_idx")
        return [
            f"CREATE TABLE IF NOT EXISTS {quote(self.name)} (\n  {cols},\n"
            f'  PRIMARY KEY ("model_name", "role", "logical_date", "row_id")\n)',
            f'CREATE INDEX IF NOT EXISTS {index} ON {quote(self.name)} ("model_name", "logical_date")',
            f"CREATE TABLE IF NOT EXISTS {quote(self.runs_table)} (\n"
            '  "scores_table" TEXT NOT NULL, "model_name" TEXT NOT NULL, "role" TEXT NOT NULL,\n'
            f'  "logical_date" {ts} NOT NULL, "model_version" TEXT NOT NULL, "mlflow_run_id" TEXT NOT NULL,\n'
            '  "dag_run_id" TEXT NOT NULL, "dataset_path" TEXT, "dataset_digest" TEXT, "rows" BIGINT NOT NULL,\n'
            f'  "entity" TEXT NOT NULL, "feature_names" TEXT NOT NULL, "scored_at" {ts} NOT NULL,\n'
            '  PRIMARY KEY ("scores_table", "model_name", "role", "logical_date")\n)',
        ]


@dataclass(frozen=True)
class ScoreBatchKey:
    """What identifies one write (model, role, logical date) and the constants every row of it carries."""

    model_name: str
    model_version: str
    role: str
    mlflow_run_id: str
    dag_run_id: str
    logical_date: datetime
    scored_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, got {self.role!r}")
        object.__setattr__(self, "logical_date", utc(self.logical_date))
        object.__setattr__(self, "scored_at", utc(self.scored_at))

    @property
    def constants(self) -> tuple[str, str, str, str, str]:
        """The text constants in column order (model_name … dag_run_id)."""
        return (self.model_name, self.model_version, self.role, self.mlflow_run_id, self.dag_run_id)


@dataclass(frozen=True)
class ScoredInput:
    """Where the scored rows came from (recorded for ``reproduce``)."""

    dataset_path: str | None
    dataset_digest: str | None
    feature_names: tuple[str, ...] = ()
