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
The table holds the **current** scores of each (model, role, logical date): what consumers read.

Nothing served is destroyed. Every write is a *score run* recorded in ``mlops_score_runs`` (model
version, dag run, input dataset path and sha256, rows), one row per run, with ``is_current`` marking
the run whose rows are in the scores table (at most one per slice, by a partial unique index). When a
later run re-scores a date, the rows it replaces move to ``<table>_superseded`` (same columns plus
``score_run_id``) and their run gets ``superseded_at``/``superseded_by``; retention purges superseded
rows (``purged_at``) but never run records. The view ``<table>_history`` is the union of both, with
``score_run_id`` and ``is_current`` on every row: "what did we serve for D" is a query on it.

Identifiers are always quoted (never pasted); names that cannot be a column/table name are rejected.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

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
RUNS_COLUMNS = (
    "score_run_id",
    "scores_table",
    "model_name",
    "role",
    "logical_date",
    "model_version",
    "mlflow_run_id",
    "dag_run_id",
    "dataset_path",
    "dataset_digest",
    "rows",
    "entity",
    "feature_names",
    "scored_at",
    "is_current",
    "superseded_at",
    "superseded_by",
    "purged_at",
)
V1_RUNS_COLUMNS = RUNS_COLUMNS[1:14]  # the first layout: one row per slice, no run id, no history


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


def derived_name(name: str, suffix: str) -> str:
    """``name + suffix``, shortened with a hash of ``name`` when that would pass the identifier limit."""
    if len((name + suffix).encode()) <= MAX_IDENTIFIER_BYTES:
        return name + suffix
    tag = "_" + hashlib.sha256(name.encode()).hexdigest()[:8]
    room = MAX_IDENTIFIER_BYTES - len((tag + suffix).encode())
    head = name.encode()[:room].decode(errors="ignore")
    return head + tag + suffix


def literal(value: str) -> str:
    """A SQL string literal (``'`` doubled; PostgreSQL has standard_conforming_strings on by default)."""
    return "'" + value.replace("'", "''") + "'"


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

    @property
    def superseded(self) -> str:
        """Table of the rows that later runs replaced (same columns plus ``score_run_id``)."""
        return derived_name(self.name, "_superseded")

    @property
    def history(self) -> str:
        """View of every run's rows, current and superseded, with ``score_run_id`` and ``is_current``."""
        return derived_name(self.name, "_history")

    def create_sql(self, dialect: str, quote: Callable[[str], str] = quote) -> list[str]:
        """``CREATE TABLE/INDEX IF NOT EXISTS`` statements for the scores, superseded and run tables.

        ``quote`` quotes an identifier (PostgreSQL: ``psycopg.sql.Identifier``); the default doubles ``"``.
        """
        not_null = {"probability"}
        typed = list(zip(self.columns, self.column_types(dialect), strict=True))
        cols = ",\n  ".join(f"{quote(c)} {t}{'' if c in not_null else ' NOT NULL'}" for c, t in typed)
        index = quote(f"{self.name[:48]}_model_date_idx")
        old_index = quote(derived_name(self.superseded, "_idx"))
        return [
            f"CREATE TABLE IF NOT EXISTS {quote(self.name)} (\n  {cols},\n"
            f'  PRIMARY KEY ("model_name", "role", "logical_date", "row_id")\n)',
            f'CREATE INDEX IF NOT EXISTS {index} ON {quote(self.name)} ("model_name", "logical_date")',
            f"CREATE TABLE IF NOT EXISTS {quote(self.superseded)} (\n  {cols},\n"
            '  "score_run_id" TEXT NOT NULL,\n  PRIMARY KEY ("score_run_id", "row_id")\n)',
            f'CREATE INDEX IF NOT EXISTS {old_index} ON {quote(self.superseded)} ("model_name", "logical_date")',
            *runs_create_sql(self.runs_table, dialect, quote),
        ]

    def history_view_sql(self, dialect: str, quote: Callable[[str], str] = quote, literal=literal) -> str:
        """``CREATE VIEW`` of :attr:`history` (the caller creates it only when missing)."""
        true, false = ("TRUE", "FALSE") if dialect == "postgres" else ("1", "0")
        cols = ", ".join(quote(c) for c in self.columns)
        s_cols = ", ".join("s." + quote(c) for c in self.columns)
        return (
            f"CREATE VIEW {quote(self.history)} AS\n"
            f'SELECT {s_cols}, r."score_run_id", {true} AS "is_current" FROM {quote(self.name)} s\n'
            f'LEFT JOIN {quote(self.runs_table)} r ON r."scores_table" = {literal(self.name)} AND r."is_current"\n'
            '  AND r."model_name" = s."model_name" AND r."role" = s."role" AND r."logical_date" = s."logical_date"\n'
            f'UNION ALL\nSELECT {cols}, "score_run_id", {false} AS "is_current" FROM {quote(self.superseded)}'
        )


def runs_create_sql(runs_table: str, dialect: str, quote: Callable[[str], str] = quote) -> list[str]:
    """The run table (one row per score run) and its indexes, ``IF NOT EXISTS``."""
    ts = "TIMESTAMPTZ" if dialect == "postgres" else "TEXT"
    flag = "BOOLEAN" if dialect == "postgres" else "INTEGER"
    name = quote(runs_table)
    return [
        f"CREATE TABLE IF NOT EXISTS {name} (\n"
        '  "score_run_id" TEXT NOT NULL PRIMARY KEY,\n'
        '  "scores_table" TEXT NOT NULL, "model_name" TEXT NOT NULL, "role" TEXT NOT NULL,\n'
        f'  "logical_date" {ts} NOT NULL, "model_version" TEXT NOT NULL, "mlflow_run_id" TEXT NOT NULL,\n'
        '  "dag_run_id" TEXT NOT NULL, "dataset_path" TEXT, "dataset_digest" TEXT, "rows" BIGINT NOT NULL,\n'
        f'  "entity" TEXT NOT NULL, "feature_names" TEXT NOT NULL, "scored_at" {ts} NOT NULL,\n'
        f'  "is_current" {flag} NOT NULL, "superseded_at" {ts}, "superseded_by" TEXT, "purged_at" {ts}\n)',
        f"CREATE UNIQUE INDEX IF NOT EXISTS {quote(derived_name(runs_table, '_current_idx'))} ON {name} "
        '("scores_table", "model_name", "role", "logical_date") WHERE "is_current"',
        f"CREATE INDEX IF NOT EXISTS {quote(derived_name(runs_table, '_date_idx'))} ON {name} "
        '("scores_table", "model_name", "logical_date")',
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


class Sql:
    """Statements with ``{name}`` identifier slots and ``?`` parameters, for either dialect."""

    def __init__(self, conn: Any, dialect: str) -> None:
        self.conn, self.dialect = conn, dialect

    def __call__(self, template: str, params: Any = (), **names: str | list[str]) -> Any:
        """Run ``template`` with ``names`` quoted into its slots (a list becomes a column list)."""
        text = template.replace("?", "%s") if self.dialect == "postgres" else template
        quoted = {}
        for slot, value in names.items():
            ident = ", ".join(map(quote, value)) if isinstance(value, list) else quote(value)
            quoted[slot] = ident.replace("%", "%%") if self.dialect == "postgres" else ident
        return self.conn.execute(text.format(**quoted), list(params))  # identifiers never pass through format

    def time(self, value: datetime) -> Any:
        return sqlite_time(value) if self.dialect == "sqlite" else utc(value)
