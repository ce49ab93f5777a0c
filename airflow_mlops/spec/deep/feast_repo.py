"""Deep check of the ``features`` section against the Feast repo's own definitions (CLI only).

The repo's Python files are imported with Feast's ``parse_repo`` (what ``feast plan`` reads), without a
registry or any store: feature refs, the feature service, the entity join key and the timestamp are
checked against the feature views and services the repo defines.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow_mlops.spec.deep.rulefiles import resolve_project
from airflow_mlops.spec.schema import ModelSpec

Finding = tuple[tuple[Any, ...], str]
HOME_ENV = "AIRFLOW_MLOPS_HOME"


@dataclass
class FeastDefinitions:
    """What a repo defines: feature views (name → {feature: kind}, join keys) and feature services."""

    views: dict[str, dict[str, str]] = field(default_factory=dict)
    join_keys: dict[str, list[str]] = field(default_factory=dict)
    services: dict[str, set[tuple[str, str]]] = field(default_factory=dict)


def _kind(dtype: Any) -> str:
    """``int``, ``float``, ``str``, ``bool``, ``datetime`` or ``other`` for a Feast type."""
    name = str(dtype).lower()
    for key, kind in (("int", "int"), ("float", "float"), ("string", "str"), ("bool", "bool")):
        if name.startswith(key) or f"({key}" in name:
            return kind
    return "datetime" if "timestamp" in name else "other"


@contextlib.contextmanager
def _importable(repo: Path) -> Iterator[None]:
    """cwd and ``sys.path`` as ``feast`` sets them for a repo; modules it imported are dropped afterwards."""
    before = set(sys.modules)
    unset_home = HOME_ENV not in os.environ
    if unset_home:  # the definitions may build paths from it; nothing is created
        os.environ[HOME_ENV] = str(Path(os.environ.get("AIRFLOW_HOME") or Path.home() / "airflow") / "mlops")
    sys.path.insert(0, str(repo))
    try:
        with contextlib.chdir(repo):
            yield
    finally:
        sys.path.remove(str(repo))
        if unset_home:
            os.environ.pop(HOME_ENV, None)
        for name in set(sys.modules) - before:
            module_file = getattr(sys.modules[name], "__file__", None) or ""
            if module_file.startswith(str(repo)):
                del sys.modules[name]


_CACHE: dict[tuple, FeastDefinitions] = {}


def load_definitions(repo: Path) -> FeastDefinitions:
    """Feature views and services of the repo at ``repo`` (its ``.py`` files are executed, as Feast does).

    Memoized on the files' paths, sizes and modification times and the environment they read.
    """
    from feast.repo_operations import get_repo_files

    files = get_repo_files(repo)
    stats = tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in files)
    key = (str(repo), stats, tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("AIRFLOW_MLOPS"))))
    if key not in _CACHE:
        _CACHE[key] = _parse(repo)
    return _CACHE[key]


def _parse(repo: Path) -> FeastDefinitions:
    from feast.repo_operations import parse_repo

    with _importable(repo):
        contents = parse_repo(repo)
    found = FeastDefinitions()
    entity_keys = {e.name: [e.join_key] for e in contents.entities}
    for view in [*contents.feature_views, *contents.stream_feature_views, *contents.on_demand_feature_views]:
        found.views[view.name] = {f.name: _kind(f.dtype) for f in view.features}
        names = getattr(view, "entities", None) or []  # join keys are filled in only when Feast applies
        found.join_keys[view.name] = [k for name in names for k in entity_keys.get(name, [])]
    for service in contents.feature_services:
        found.services[service.name] = {
            (p.name_to_use() if hasattr(p, "name_to_use") else p.name, f.name)
            for p in service.feature_view_projections
            for f in p.features
        }
    return found


def repo_path(spec: ModelSpec, spec_path: str | Path) -> Path:
    return resolve_project(spec_path, spec.features.repo)


def feast_findings(spec: ModelSpec, spec_path: str | Path) -> tuple[list[Finding], FeastDefinitions | None]:
    """Findings of the ``features`` section, and the definitions when the repo loaded."""
    loc = ("features", "repo")
    try:
        repo = repo_path(spec, spec_path)
    except ValueError as exc:
        return [(loc, str(exc))], None
    if not (repo / "feature_store.yaml").is_file():
        return [(loc, f"no Feast repo at {repo} (feature_store.yaml missing)")], None
    try:
        found = load_definitions(repo)
    except Exception as exc:  # user code of the repo: any error means Feast cannot load it either
        return [(loc, f"Feast cannot load the repo definitions: {type(exc).__name__}: {exc}")], None
    return list(_definition_findings(spec, found)), found


def _close(name: str, options: Any) -> str:
    close = difflib.get_close_matches(name, sorted(options), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _definition_findings(spec: ModelSpec, found: FeastDefinitions) -> Iterator[Finding]:
    f = spec.features
    used_views: list[str] = []
    for i, ref in enumerate(f.refs):
        view, feature = ref.split(":", 1)
        if view not in found.views:
            yield ("features", "refs", i), f"the Feast repo has no feature view {view!r}{_close(view, found.views)}"
            continue
        used_views.append(view)
        if feature not in found.views[view]:
            yield (
                ("features", "refs", i),
                f"feature view {view!r} has no feature {feature!r}{_close(feature, found.views[view])} "
                f"(it has: {', '.join(found.views[view])})",
            )
    for view in dict.fromkeys(used_views):
        keys = found.join_keys[view]
        if keys and f.entity not in keys:
            yield ("features", "entity"), f"feature view {view!r} joins on {', '.join(keys)}, not {f.entity!r}"
        if f.timestamp in keys:
            yield ("features", "timestamp"), f"{f.timestamp!r} is a join key of feature view {view!r}"
    if f.feature_service:
        yield from _service_findings(spec, found)


def _service_findings(spec: ModelSpec, found: FeastDefinitions) -> Iterator[Finding]:
    name = spec.features.feature_service
    if name not in found.services:
        hint = _close(name, found.services)
        yield ("features", "feature_service"), f"the Feast repo has no feature service {name!r}{hint}"
        return
    served = found.services[name]
    missing = [ref for ref in spec.features.refs if tuple(ref.split(":", 1)) not in served]
    if missing:
        yield (
            ("features", "feature_service"),
            f"feature service {name!r} does not serve {', '.join(missing)} (training retrieves the service)",
        )
