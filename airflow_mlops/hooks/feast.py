"""Feast hook: one FeatureStore for a feature repo, with change-aware apply, materialize and retrieval.

The repo's ``feature_store.yaml`` (or the file named by ``$FEAST_FS_YAML_FILE_PATH``, Feast's own
variable) is read by Feast, which expands ``${VAR}``; while Feast reads the config and the definitions the
hook provides ``AIRFLOW_MLOPS_HOME`` (the MLOps home) when it is unset, so the embedded registry, online store
and data follow the MLOps home; the process environment is left as it was.
With a PostgreSQL offline store the repo is loaded with ``AIRFLOW_MLOPS_FEATURE_SOURCE=postgres`` (unless
set), so it defines its sources as tables: choosing the config file is all it takes.
Feast itself is imported only when a method runs.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import cache, cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from airflow_mlops import settings

if TYPE_CHECKING:
    import pandas as pd
    from feast import FeatureStore

    from airflow_mlops.spec import ModelSpec

FS_YAML_ENV = "FEAST_FS_YAML_FILE_PATH"
# Environment variables the repo definitions read (they change what `apply` registers).
SOURCE_ENV = "AIRFLOW_MLOPS_FEATURE_SOURCE"
DEFINITION_ENV = ("AIRFLOW_MLOPS_HOME", SOURCE_ENV, "AIRFLOW_MLOPS_FEATURE_DATA", "AWS_ENDPOINT_URL")
# Offline store types whose sources the repo defines as tables rather than files.
TABLE_SOURCE_STORES = {"postgres": "postgres"}
ROW_COLUMN = "__mlops_row"


class FeastHook(BaseHook):
    """Wraps :class:`feast.FeatureStore` for the feature repo at ``repo_path``.

    :param repo_path: folder with ``feature_store.yaml`` and the Python definitions; when not given, the
        ``host`` of connection ``feast_conn_id`` (type ``feast``; extra ``fs_yaml_file``).
    :param fs_yaml_file: another config file (e.g. ``feature_store.postgres.yaml``); default
        ``$FEAST_FS_YAML_FILE_PATH``, else ``<repo_path>/feature_store.yaml``.
    :param feast_conn_id: connection naming the repo, used only when ``repo_path`` is not given.
    """

    conn_name_attr = "feast_conn_id"
    default_conn_name = "feast_default"
    conn_type = "feast"
    hook_name = "Feast"

    def __init__(
        self,
        repo_path: str | Path | None = None,
        fs_yaml_file: str | Path | None = None,
        *,
        feast_conn_id: str = default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.feast_conn_id = feast_conn_id
        if repo_path is None:  # a connection names the repo (the UI's "Test" button builds the hook this way)
            conn = self.get_connection(feast_conn_id)
            repo_path, fs_yaml_file = conn.host or "", fs_yaml_file or conn.extra_dejson.get("fs_yaml_file")
        self.repo_path = Path(repo_path).resolve()
        if not (self.repo_path / "feature_store.yaml").exists() and fs_yaml_file is None:
            raise FileNotFoundError(f"no Feast repo at {self.repo_path} (feature_store.yaml missing)")
        raw = fs_yaml_file or os.environ.get(FS_YAML_ENV) or "feature_store.yaml"
        self.fs_yaml_file = (self.repo_path / raw).resolve()

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """The connection form: the repo folder as host, the config file in extra."""
        return {
            "hidden_fields": ["schema", "login", "password", "port"],
            "relabeling": {"host": "Feature repo folder"},
            "placeholders": {
                "host": "/opt/airflow/feature_repo",
                "extra": '{"fs_yaml_file": "feature_store.postgres.yaml"}',
            },
        }

    def test_connection(self) -> tuple[bool, str]:
        """Load the repo's config and list its feature views from the registry."""
        try:
            views = self.store.list_feature_views()
        except Exception as exc:
            from airflow_mlops.redact import redact_text

            return False, f"Feast repo {self.repo_path}: {type(exc).__name__}: {redact_text(str(exc))}"
        return True, f"Feast project {self.store.config.project} at {self.repo_path}: {len(views)} feature views"

    @contextmanager
    def _home_env(self) -> Iterator[None]:
        """``AIRFLOW_MLOPS_HOME`` while Feast expands the config or the definitions run, when it is unset."""
        with _env({"AIRFLOW_MLOPS_HOME": os.environ.get("AIRFLOW_MLOPS_HOME") or str(settings.mlops_home())}):
            yield

    @cached_property
    def store(self) -> FeatureStore:
        """The FeatureStore (local registry and SQLite folders are created on first use)."""
        import logging

        from feast import FeatureStore

        # Feast logs "Registry cache expired" at INFO on every registry read: dozens of lines per task log.
        logging.getLogger("feast.infra.registry.registry").setLevel(logging.WARNING)
        with self._home_env():
            store = FeatureStore(repo_path=str(self.repo_path), fs_yaml_file=self.fs_yaml_file)
        for path in (self._local_registry_path(store), getattr(store.config.online_store, "path", None)):
            if path and "://" not in str(path):
                Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._log_stores(store)
        return store

    def _log_stores(self, store: FeatureStore) -> None:
        """Log (INFO) which registry and stores the config names, credentials redacted and masked."""
        from airflow_mlops.redact import mask, mask_uri

        config = store.config
        for part in (config.offline_store, config.online_store):
            mask(getattr(part, "password", None))
        self.log.info(
            "Feast project %s from %s: registry %s, offline store %s, online store %s",
            config.project,
            self.fs_yaml_file.name,
            mask_uri(str(getattr(config.registry, "path", "") or "")),
            getattr(config.offline_store, "type", "?"),
            getattr(config.online_store, "type", "?"),
        )

    # --- apply -------------------------------------------------------------------------------------

    def repo_files(self) -> list[Path]:
        """The definition files and the config file, in a stable order."""
        files = {p for p in self.repo_path.rglob("*.py") if "__pycache__" not in p.parts}
        return sorted(files | {self.fs_yaml_file})

    def repo_digest(self) -> str:
        """sha256 over the repo files and the environment the definitions read."""
        digest = hashlib.sha256()
        for path in self.repo_files():
            digest.update(str(path.relative_to(self.repo_path)).encode() + b"\0" + path.read_bytes() + b"\0")
        env = self._definition_env()
        if env[SOURCE_ENV] != "file":  # the home only locates file sources: workers with their own homes agree
            env.pop("AIRFLOW_MLOPS_HOME")
        for name, value in env.items():
            digest.update(f"{name}={value}\0".encode())
        return digest.hexdigest()

    def _definition_env(self) -> dict[str, str]:
        """The variables the definitions read; the source kind follows the offline store unless set."""
        env = {name: os.environ.get(name, "") for name in DEFINITION_ENV}
        env["AIRFLOW_MLOPS_HOME"] = env["AIRFLOW_MLOPS_HOME"] or str(settings.mlops_home())
        offline_type = getattr(self.store.config.offline_store, "type", "")
        env[SOURCE_ENV] = env[SOURCE_ENV] or TABLE_SOURCE_STORES.get(offline_type, "file")
        return env

    def digest_file(self) -> Path | None:
        """Where a local registry's applied digest is kept (beside it); None for a shared registry (state DB)."""
        registry = self._local_registry_path(self.store)
        return _FileRecord(Path(registry)).marker if registry else None

    def apply(self, force: bool = False) -> bool:
        """Register the repo definitions when they changed since the last apply; True when applied.

        A local (file) registry keeps the applied digest in a file beside it, under a file lock. Any other
        registry (SQL, shared by every worker) keeps it in the state database, under its lock: one worker
        applies, the others see the digest and skip, and nothing is written to a worker's disk.
        """
        digest = self.repo_digest()
        local = self._local_registry_path(self.store)
        record = _FileRecord(Path(local)) if local else _StateDbRecord(self)
        with record.locked():
            if not force and record.current() == digest:
                self.log.info("Feast repo %s unchanged (digest %s): apply skipped", self.repo_path, digest[:12])
                return False
            started = time.monotonic()
            objects, to_delete = self._plan()
            self.store.apply(objects, objects_to_delete=to_delete, partial=False)
            self.store.refresh_registry()
            record.save(digest)
            self.log.info(
                "Feast apply of %s: %d objects registered, %d removed in %.1fs (digest %s)",
                self.repo_path,
                len(objects),
                len(to_delete),
                time.monotonic() - started,
                digest[:12],
            )
            return True

    def _plan(self) -> tuple[list[Any], list[Any]]:
        """The repo's Feast objects, and the registered ones the repo no longer defines."""
        from feast.repo_contents import RepoContents
        from feast.repo_operations import extract_objects_for_apply_delete

        repo = RepoContents(
            projects=[],
            data_sources=[],
            entities=[],
            feature_views=[],
            feature_services=[],
            on_demand_feature_views=[],
            stream_feature_views=[],
            label_views=[],
            permissions=[],
        )
        for obj in self._load_definitions():
            for field, kinds in _repo_fields().items():
                if isinstance(obj, kinds) and not any(obj is seen for seen in getattr(repo, field)):
                    getattr(repo, field).append(obj)
                    break
        for view in repo.feature_views:  # sources defined inline count too
            if view.batch_source is not None and not any(view.batch_source is s for s in repo.data_sources):
                repo.data_sources.append(view.batch_source)
        to_apply, to_delete, _, _ = extract_objects_for_apply_delete(
            self.store.config.project, self.store.registry, repo
        )
        return to_apply, to_delete

    def _load_definitions(self) -> Iterator[Any]:
        """Every module-level object of the repo's Python files, loaded fresh (no sys.modules cache)."""
        env = self._definition_env()
        with _env({"AIRFLOW_MLOPS_HOME": env["AIRFLOW_MLOPS_HOME"], SOURCE_ENV: env[SOURCE_ENV]}):
            objects = list(self._import_repo_files())
        yield from objects

    def _import_repo_files(self) -> Iterator[Any]:
        for path in self.repo_files():
            if path.suffix != ".py" or path.name == "__init__.py":
                continue
            name = f"_feast_repo_{hashlib.sha256(str(path).encode()).hexdigest()[:10]}_{path.stem}"
            spec = importlib.util.spec_from_file_location(name, path)
            if spec is None or spec.loader is None:
                continue
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module  # dataclass-like decorators look the module up
            try:
                spec.loader.exec_module(module)
            finally:
                sys.modules.pop(name, None)
            yield from vars(module).values()

    # --- materialize -------------------------------------------------------------------------------

    def materialize(self, end: datetime, feature_views: list[str] | None = None) -> dict[str, list[str] | None]:
        """Bring the online store up to ``end`` for the views, incrementally; returns ``[start, end]`` per view.

        Each view is materialized from where its last materialization ended (Feast's record), so a run loads
        only what arrived since the previous one; a view never materialized starts at ``end`` minus its ttl
        (older values expire online anyway; the whole source when the ttl is 0). A view already materialized
        past ``end`` is left alone (None): a backfill or a re-run never rolls online values back.
        No source is read for a row count.
        """
        started = time.monotonic()
        names = feature_views or [v.name for v in self.store.list_feature_views()]
        done: dict[str, list[str] | None] = {}
        for name in names:
            start = self._materialize_start(name, end)
            if start is None:
                done[name] = None
                continue
            self.store.materialize(start, end, feature_views=[name])
            done[name] = [start.isoformat(), end.isoformat()]
        self.log.info(
            "Feast materialize up to %s: %s in %.1fs",
            end.isoformat(),
            ", ".join(f"{n} {'from ' + r[0] if r else 'already current'}" for n, r in done.items()),
            time.monotonic() - started,
        )
        return done

    def _materialize_start(self, feature_view: str, end: datetime) -> datetime | None:
        """Where ``feature_view``'s next materialization up to ``end`` starts; None when it is already there."""
        from datetime import UTC, timedelta

        view = self.store.get_feature_view(feature_view)
        last = view.most_recent_end_time
        if last is not None:
            last = last.replace(tzinfo=UTC) if last.tzinfo is None else last.astimezone(UTC)
            return None if last >= end else last
        ttl = view.ttl or timedelta(0)
        return end - ttl if ttl > timedelta(0) else datetime(1970, 1, 1, tzinfo=UTC)

    def check_source_columns(self, feature_views: list[str]) -> None:
        """Raise :class:`~airflow_mlops.validation.errors.DataError` naming each column a view's source lacks.

        Runs before Feast reads the sources, so a renamed upstream column is reported with the columns
        that arrived instead, not as an offline-store traceback deep inside ``materialize``.
        """
        from airflow_mlops.validation.errors import DataError, missing_columns_message

        problems = []
        for name in feature_views:
            view = self.store.get_feature_view(name)
            source = view.batch_source
            arrived = [str(c) for c, _ in source.get_table_column_names_and_types(self.store.config)]
            to_source = {feature: column for column, feature in (source.field_mapping or {}).items()}
            wanted = [*view.join_keys, *(f.name for f in view.features)]
            expected = [to_source.get(c, c) for c in wanted] + [source.timestamp_field]
            expected += [source.created_timestamp_column] if source.created_timestamp_column else []
            missing = [c for c in dict.fromkeys(expected) if c not in arrived]
            if missing:
                what = f"feature view {name!r} source {source.name!r}"
                problems.append(missing_columns_message(what, missing, arrived, expected))
        if problems:
            raise DataError("\n".join(problems))

    # --- retrieval ---------------------------------------------------------------------------------

    def feature_refs(self, spec: ModelSpec) -> Any:
        """What to retrieve for a spec: its feature service when named, else its refs."""
        if spec.features.feature_service:
            return self.store.get_feature_service(spec.features.feature_service)
        return list(spec.features.refs)

    def training_set(self, entity_df: pd.DataFrame, spec: ModelSpec) -> pd.DataFrame:
        """Point-in-time-correct features for every row of ``entity_df`` (its extra columns kept).

        Rows come back in the order of ``entity_df``, duplicates included; raises when a row is lost
        or a feature of the spec is missing.
        """
        import pandas as pd

        started = time.monotonic()
        frame = entity_df.reset_index(drop=True).copy()
        frame[spec.features.timestamp] = pd.to_datetime(frame[spec.features.timestamp], utc=True, cache=False)
        if spec.features.timestamp != "event_timestamp":
            frame = frame.rename(columns={spec.features.timestamp: "event_timestamp"})
        frame[ROW_COLUMN] = range(len(frame))
        result, how = self._point_in_time(frame, self.feature_refs(spec))
        result = result.drop(columns=ROW_COLUMN)
        # every engine answers in UTC; some (Feast's PostgreSQL store) drop the zone: the dataset keeps the input's
        result["event_timestamp"] = pd.to_datetime(result["event_timestamp"], utc=True, cache=False)
        if spec.features.timestamp != "event_timestamp":
            result = result.rename(columns={"event_timestamp": spec.features.timestamp})
        if len(result) != len(frame):
            raise RuntimeError(f"Feast returned {len(result)} rows for {len(frame)} entity rows")
        missing = [c for c in spec.features.feature_names if c not in result.columns]
        if missing:
            raise KeyError(f"features {missing} of spec {spec.model.name} not served by Feast (got {list(result)})")
        self.log.info(
            "point-in-time retrieval (%s) for %s: %d rows x %d features in %.1fs",
            how,
            spec.model.name,
            len(result),
            len(spec.features.feature_names),
            time.monotonic() - started,
        )
        return result

    def _point_in_time(self, frame: pd.DataFrame, refs: Any) -> tuple[pd.DataFrame, str]:
        """Features for ``frame`` (in its order) from the Feast definitions; which engine read them.

        DuckDB ASOF joins over the views' parquet files (:mod:`airflow_mlops.features.pointintime`) where
        they give Feast's answer; Feast's ``get_historical_features`` for every other source or view.
        """
        from airflow_mlops.features import pointintime

        try:
            plans = pointintime.plan(self.store, refs)
        except pointintime.Unsupported as exc:
            self.log.info("point-in-time retrieval through Feast: %s", exc)
            return self.historical_features(frame, refs), "Feast get_historical_features"
        return pointintime.retrieve(frame, plans), "DuckDB ASOF join on the Feast definitions"

    def historical_features(self, frame: pd.DataFrame, refs: Any) -> pd.DataFrame:
        """Feast's ``get_historical_features`` for ``frame`` (which has ``ROW_COLUMN``), in ``frame``'s order."""
        job = self.store.get_historical_features(entity_df=frame, features=refs)
        return job.to_df().sort_values(ROW_COLUMN, kind="stable").reset_index(drop=True)

    # --- helpers -----------------------------------------------------------------------------------

    def _local_registry_path(self, store: FeatureStore) -> str | None:
        registry = store.config.registry
        path = getattr(registry, "path", None)
        if getattr(registry, "registry_type", "file") != "file" or not path or "://" in str(path):
            return None
        path = Path(path)
        return str(path if path.is_absolute() else self.repo_path / path)


class _FileRecord:
    """Embedded: ``<registry>.sha256`` beside the registry file, ``flock`` on ``<registry>.lock``."""

    def __init__(self, registry: Path) -> None:
        self.registry, self.marker = registry, Path(f"{registry}.sha256")

    @contextmanager
    def locked(self) -> Iterator[None]:
        lock = self.marker.with_suffix(".lock")
        lock.parent.mkdir(parents=True, exist_ok=True)
        with lock.open("w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def current(self) -> str | None:
        if not self.registry.exists() or not self.marker.exists():
            return None
        return self.marker.read_text().strip()

    def save(self, digest: str) -> None:
        self.marker.write_text(digest + "\n")


class _StateDbRecord:
    """Shared registry: table ``feast_applies`` of the state database, its cross-machine lock.

    The digest counts only while the registry still lists feature views of the project (a registry
    database that was emptied is applied again).
    """

    def __init__(self, hook: FeastHook) -> None:
        from airflow_mlops.hooks.state_db import StateDbHook

        self.hook = hook
        self.project = hook.store.config.project
        self.state = StateDbHook()

    @contextmanager
    def locked(self) -> Iterator[None]:
        self.state.create_all(_applies_table().metadata)
        with self.state.lock(f"feast-apply:{self.project}"):
            yield

    def current(self) -> str | None:
        from sqlalchemy import select

        table = _applies_table()
        with self.state.get_engine().connect() as conn:
            digest = conn.execute(select(table.c.digest).where(table.c.project == self.project)).scalar()
        if digest is None:
            return None
        self.hook.store.refresh_registry()
        return digest if self.hook.store.list_feature_views() else None

    def save(self, digest: str) -> None:
        from datetime import UTC

        from sqlalchemy import delete, insert

        table = _applies_table()
        row = {"project": self.project, "digest": digest, "applied_at": datetime.now(UTC).isoformat()}
        with self.state.get_engine().begin() as conn:
            conn.execute(delete(table).where(table.c.project == self.project))
            conn.execute(insert(table).values(**row))


@cache
def _applies_table() -> Any:
    """Table ``feast_applies`` (project, digest, applied_at) of the state database."""
    from sqlalchemy import Column, MetaData, String, Table, Text

    return Table(
        "feast_applies",
        MetaData(),
        Column("project", Text, primary_key=True),
        Column("digest", String(64), nullable=False),
        Column("applied_at", String(40), nullable=False),
    )


@contextmanager
def _env(values: dict[str, str]) -> Iterator[None]:
    """``values`` in ``os.environ`` for the duration, then the environment as it was."""
    previous = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _repo_fields() -> dict[str, tuple[type, ...]]:
    """RepoContents field for each Feast object type (more specific types first)."""
    from feast import Entity, FeatureService, FeatureView, OnDemandFeatureView, StreamFeatureView
    from feast.data_source import DataSource

    return {
        "stream_feature_views": (StreamFeatureView,),
        "on_demand_feature_views": (OnDemandFeatureView,),
        "feature_views": (FeatureView,),
        "entities": (Entity,),
        "feature_services": (FeatureService,),
        "data_sources": (DataSource,),
    }
