"""Conventions checked over everything the provider publishes (``get_provider_info()``), as the amazon provider's
``test_hooks_signature.py`` does for its hooks."""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import pytest
from airflow.sdk import BaseHook, BaseOperator, BaseOperatorLink

from airflow_mlops.provider import get_provider_info

PACKAGE = Path(importlib.import_module("airflow_mlops").__file__).parent
INFO = get_provider_info()
# Modules allowed to use the task SDK's internals, and why.
INTERNALS_ALLOWED = {
    "hooks/connections.py": "Airflow 3.3 reports every failed connection lookup as 'not found'; telling a missing "
    "connection from an unreadable one needs the supervisor's own answer (see the module docstring)",
}
INTERNAL_MODULES = ("airflow.sdk.execution_time",)


def _modules(kind: str) -> list[str]:
    return [m for entry in INFO.get(kind, []) for m in entry["python-modules"]]


def _classes(modules: list[str], base: type) -> list[type]:
    found = []
    for name in modules:
        module = importlib.import_module(name)
        found += [
            obj
            for obj in vars(module).values()
            if inspect.isclass(obj) and issubclass(obj, base) and obj.__module__ == name and not inspect.isabstract(obj)
        ]
    return found


HOOKS = _classes(_modules("hooks"), BaseHook)
OPERATORS = _classes(_modules("operators"), BaseOperator)
HOOK_BY_CONN_PARAM = {hook.conn_name_attr: hook for hook in HOOKS if getattr(hook, "conn_name_attr", None)}


def test_provider_lists_every_operator_and_hook_module():
    listed = set(_modules("operators")) | set(_modules("hooks"))
    for folder in ("operators", "hooks"):
        for path in (PACKAGE / folder).glob("*.py"):
            if path.stem in ("__init__", "base", "connections", "model_artifact"):
                continue
            assert f"airflow_mlops.{folder}.{path.stem}" in listed, f"{folder}/{path.name} missing from provider.py"
    assert len(HOOKS) >= 3 and len(OPERATORS) >= 9


@pytest.mark.parametrize("hook", HOOKS, ids=lambda h: h.__name__)
def test_hook_has_ui_field_behaviour_test_connection_and_a_registered_conn_type(hook):
    assert "get_ui_field_behaviour" in vars(hook), f"{hook.__name__} lacks get_ui_field_behaviour"
    assert "test_connection" in vars(hook), f"{hook.__name__} lacks test_connection"
    behaviour = hook.get_ui_field_behaviour()
    assert set(behaviour) <= {"hidden_fields", "relabeling", "placeholders"} and behaviour["placeholders"]
    registered = {c["hook-class-name"]: c["connection-type"] for c in INFO["connection-types"]}
    assert registered.get(f"{hook.__module__}.{hook.__name__}") == hook.conn_type
    param = inspect.signature(hook.__init__).parameters[hook.conn_name_attr]
    assert param.default == hook.default_conn_name


@pytest.mark.parametrize("entry", INFO["connection-types"], ids=lambda c: c["connection-type"])
def test_connection_types_name_real_hooks(entry):
    module, _, name = entry["hook-class-name"].rpartition(".")
    hook = getattr(importlib.import_module(module), name)
    assert hook.conn_type == entry["connection-type"] and hook in HOOKS


def _init_params(operator: type) -> dict[str, inspect.Parameter]:
    """Every keyword ``__init__`` of the operator and its bases down to BaseOperator accepts."""
    params: dict[str, inspect.Parameter] = {}
    for cls in reversed(operator.__mro__):
        if cls is BaseOperator or not issubclass(cls, BaseOperator) or "__init__" not in vars(cls):
            continue
        init = inspect.unwrap(vars(cls)["__init__"])
        params.update({n: p for n, p in inspect.signature(init).parameters.items() if n != "self"})
    return params


@pytest.mark.parametrize("operator", OPERATORS, ids=lambda o: o.__name__)
def test_conn_id_parameters_are_templated_and_default_to_the_hook(operator):
    params = _init_params(operator)
    for name, param in params.items():
        if not name.endswith("_conn_id"):
            continue
        assert name in operator.template_fields, f"{operator.__name__}.{name} is not templated"
        hook = HOOK_BY_CONN_PARAM.get(name)
        assert hook is not None, f"{operator.__name__}.{name}: no published hook owns this conn id"
        assert param.default == hook.default_conn_name, f"{operator.__name__}.{name} default {param.default!r}"


@pytest.mark.parametrize("operator", OPERATORS, ids=lambda o: o.__name__)
def test_init_is_keyword_only_and_inputs_are_templated(operator):
    params = _init_params(operator)
    positional = [n for n, p in params.items() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    assert not positional, f"{operator.__name__}.__init__ takes {positional} positionally"
    for name in ("dataset", "digest", "evaluation", "sample", "report", "model_version", "run_id"):
        if name in params:
            assert name in operator.template_fields, f"{operator.__name__}.{name} is an input but not templated"


def test_mlflow_conn_id_is_declared_once():
    """One base owns ``mlflow_conn_id``; no operator declares it again."""
    owners = [
        f"{path.name}:{node.name}"
        for path in sorted((PACKAGE / "operators").glob("*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.FunctionDef) and "mlflow_conn_id" in {a.arg for a in node.args.kwonlyargs}
    ]
    assert owners == ["base.py:__init__"]


def _calls(path: Path) -> list[ast.Call]:
    return [n for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Call)]


def _name(call: ast.Call) -> str:
    f = call.func
    return f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")


@pytest.mark.parametrize("path", sorted((PACKAGE / "operators").glob("*.py")), ids=lambda p: p.name)
def test_no_literal_upstream_task_ids_in_operators(path):
    for call in _calls(path):
        name = _name(call)
        assert name != "upstream", f"{path.name}:{call.lineno}: upstream(...) reads a hard-coded task"
        if name == "xcom_pull":
            keywords = {k.arg: k.value for k in call.keywords}
            task_ids = keywords.get("task_ids", call.args[0] if call.args else None)
            assert task_ids is None, f"{path.name}:{call.lineno}: xcom_pull(task_ids=...) in an operator"


def _imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found += [(node.lineno, node.module)] + [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
    return found


PUBLIC_SURFACE = [*sorted((PACKAGE / "operators").glob("*.py")), *sorted((PACKAGE / "hooks").glob("*.py"))]


@pytest.mark.parametrize("path", [*PUBLIC_SURFACE, PACKAGE / "links.py"], ids=lambda p: str(p.relative_to(PACKAGE)))
def test_only_public_airflow_surfaces(path):
    relative = str(path.relative_to(PACKAGE))
    text = path.read_text()
    bad = [f"{line}: {m}" for line, m in _imports(path) if m.startswith(INTERNAL_MODULES)]
    bad += ["SUPERVISOR_COMMS"] if "SUPERVISOR_COMMS" in text else []
    if relative in INTERNALS_ALLOWED:
        assert bad, f"{relative} no longer needs its allow-list entry: remove it"
        return
    assert not bad, f"{relative} uses task SDK internals: {bad}"


def test_feast_hook_leaves_the_environment_alone(tmp_path, monkeypatch):
    import os

    from airflow_mlops.hooks.feast import FeastHook

    (tmp_path / "feature_store.yaml").write_text("project: p\n")
    monkeypatch.delenv("AIRFLOW_MLOPS_HOME", raising=False)
    before = dict(os.environ)
    FeastHook(tmp_path)
    assert dict(os.environ) == before
    assert "_get_provider" not in (PACKAGE / "hooks" / "feast.py").read_text()


@pytest.mark.parametrize("link", INFO["extra-links"])
def test_extra_links_are_operator_links_used_by_a_published_operator(link):
    module, _, name = link.rpartition(".")
    cls = getattr(importlib.import_module(module), name)
    assert issubclass(cls, BaseOperatorLink)
    assert any(isinstance(x, cls) for op in OPERATORS for x in op.operator_extra_links), f"{name} is used nowhere"
