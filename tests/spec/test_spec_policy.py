"""A spec is not a code boundary: contained paths, own-DAG triggers, bounded estimator params."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from airflow_mlops.promotion.gate import GateContext, _act
from airflow_mlops.promotion.rulesets import RuleFileError, rules_for
from airflow_mlops.spec import SpecError, load_spec, parse_spec
from airflow_mlops.spec.paths import contained, inside
from airflow_mlops.spec.schema import CallbackAction

from ..conftest import PROJECT, run_cli

RIDE = (PROJECT / "dags" / "ride_demand.yaml").read_text()


def _problems(text: str, path: Path | None = None) -> list:
    with pytest.raises(SpecError) as info:
        if path is None:
            parse_spec(text, "specs/bad.yaml")
        else:
            path.write_text(text)
            load_spec(path)
    return info.value.problems


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


# --- paths ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("repo: configs/feature_repo", "repo: /etc", "features.repo"),
        ("repo: configs/feature_repo", "repo: ../../outside", "features.repo"),
        ("repo: configs/feature_repo", "repo: configs/../../x", "features.repo"),
        ("repo: configs/feature_repo", "repo: 'C:\\Windows'", "features.repo"),
        ("repo: configs/feature_repo", "repo: ' /etc'", "features.repo"),
        ("rule_files: [configs/rules/marketplace.yaml]", "rule_files: [/etc/passwd]", "promotion.rule_files[0]"),
        ("rule_files: [configs/rules/marketplace.yaml]", "rule_files: [a.yaml, ../x.yaml]", "promotion.rule_files[1]"),
        ("label_source: ride_demand_labels.parquet", "label_source: /etc/shadow", "features.label_source"),
        ("label_source: ride_demand_labels.parquet", "label_source: ../../x.parquet", "features.label_source"),
    ],
)
def test_absolute_and_climbing_paths_are_spec_errors(old, new, field):
    text = RIDE.replace(old, new)
    problems = _problems(text)
    assert [p.field for p in problems] == [field]
    assert problems[0].line == _line_of(text, new.split(":")[0] + ":")
    assert "absolute path" in problems[0].message or "'..'" in problems[0].message


@pytest.fixture()
def project(tmp_path) -> Path:
    """A project folder (dags/, configs/) with an outside folder next to it."""
    root = tmp_path / "project"
    (root / "dags").mkdir(parents=True)
    shutil.copytree(PROJECT / "configs" / "rules", root / "configs" / "rules")
    (root / "configs" / "feature_repo").mkdir()
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "evil.py").write_text("raise SystemExit('imported')\n")
    (tmp_path / "outside" / "rules.yaml").write_text("action_rules: []\n")
    return root


def test_symbolic_link_out_of_the_project_is_a_spec_error(project, monkeypatch):
    monkeypatch.delenv("AIRFLOW_MLOPS_PROJECT", raising=False)
    (project / "configs" / "linked_repo").symlink_to(project.parent / "outside")
    (project / "configs" / "rules" / "linked.yaml").symlink_to(project.parent / "outside" / "rules.yaml")
    text = RIDE.replace("repo: configs/feature_repo", "repo: configs/linked_repo").replace(
        "rule_files: [configs/rules/marketplace.yaml]", "rule_files: [configs/rules/linked.yaml]"
    )
    problems = _problems(text, project / "dags" / "ride_demand.yaml")
    assert {p.field: p.line for p in problems} == {
        "features.repo": _line_of(text, "repo:"),
        "promotion.rule_files[0]": _line_of(text, "rule_files:"),
    }
    assert all("outside" in p.message and "symbolic link" in p.message for p in problems)


def test_links_inside_the_project_and_the_examples_are_fine(project, monkeypatch):
    monkeypatch.delenv("AIRFLOW_MLOPS_PROJECT", raising=False)
    (project / "configs" / "repo_alias").symlink_to(project / "configs" / "feature_repo")
    spec = load_spec(_write(project, RIDE.replace("repo: configs/feature_repo", "repo: configs/repo_alias")))
    assert spec.features.repo == "configs/repo_alias"


def _write(project: Path, text: str) -> Path:
    path = project / "dags" / "ride_demand.yaml"
    path.write_text(text)
    return path


def test_runtime_resolution_refuses_what_escapes(project):
    (project / "configs" / "linked_repo").symlink_to(project.parent / "outside")
    resolve = lambda rel: project / rel  # noqa: E731 - as SpecOperator.project_path
    assert contained(resolve, "configs/feature_repo") == (project / "configs" / "feature_repo").resolve()
    for bad in ("configs/linked_repo", "/etc", "../outside", "configs/linked_repo/evil.py"):
        with pytest.raises(ValueError):
            contained(resolve, bad)
    with pytest.raises(ValueError, match="outside"):
        inside(project / "configs", "linked_repo/evil.py")


def test_rules_for_refuses_a_rule_file_linked_out_of_the_project(project):
    (project / "configs" / "rules" / "linked.yaml").symlink_to(project.parent / "outside" / "rules.yaml")
    spec = parse_spec(RIDE.replace("configs/rules/marketplace.yaml", "configs/rules/linked.yaml"))
    with pytest.raises(RuleFileError, match="symbolic link"):
        rules_for(spec, lambda rel: project / rel)
    ok = parse_spec(RIDE)
    assert rules_for(ok, lambda rel: project / rel).action


# --- trigger_dag ----------------------------------------------------------------------------------

TRIGGER = '        - {action: notify, message: "ride_demand promoted"}'


@pytest.mark.parametrize("dag_id", ["rider_churn__train", "some_other_dag", "ride_demand__trainx", "ride_demand"])
def test_trigger_dag_of_another_dag_is_a_spec_error(dag_id):
    text = RIDE.replace(TRIGGER, f"{TRIGGER}\n        - {{action: trigger_dag, dag_id: {dag_id}}}")
    [problem] = _problems(text)
    assert problem.field == "promotion.action_rules[0].callback_actions[2].dag_id"
    assert problem.line == _line_of(text, "trigger_dag")
    assert "ride_demand__train" in problem.message and "own DAGs" in problem.message


@pytest.mark.parametrize("kind", ["train", "score", "monitor", "rollback"])
def test_trigger_dag_of_an_own_dag_is_fine(kind):
    action = f"{TRIGGER}\n        - {{action: trigger_dag, dag_id: ride_demand__{kind}}}"
    spec = parse_spec(RIDE.replace(TRIGGER, action))
    assert spec.promotion.action_rules[0].callback_actions[2].dag_id == f"ride_demand__{kind}"


def test_rule_file_trigger_of_another_dag_is_refused(tmp_path):
    (tmp_path / "configs" / "rules").mkdir(parents=True)
    (tmp_path / "configs" / "rules" / "marketplace.yaml").write_text(
        "action_rules:\n  - when: 'true'\n    callback_actions: [{action: trigger_dag, dag_id: payroll__run}]\n"
    )
    with pytest.raises(RuleFileError, match=r"marketplace.yaml: action_rules\[0\].callback_actions\[0\].dag_id: .*own"):
        rules_for(parse_spec(RIDE), lambda rel: tmp_path / rel)


def test_gate_refuses_a_foreign_trigger_at_run_time():
    """Defence in depth: a rule that reached the gate without the loaders' check still cannot start another DAG."""
    spec = parse_spec(RIDE)
    triggered: list[str] = []
    ctx = GateContext(hook=None, history=None, trigger_dag=lambda d, c: triggered.append(d) or "r")
    fired = SimpleNamespace(rule_id="r1", values={}, source="spec")
    winner = SimpleNamespace(version="3", attrs={"is_champion": False})
    foreign = CallbackAction(action="trigger_dag", dag_id="payroll__run")
    outcome = _act(foreign, fired, winner, spec, ctx, None)
    assert outcome["triggered"] is False and triggered == []
    own = CallbackAction(action="trigger_dag", dag_id="ride_demand__score")
    assert _act(own, fired, winner, spec, ctx, None)["triggered"] is True and triggered == ["ride_demand__score"]


# --- estimator params -----------------------------------------------------------------------------

PARAMS = "params: {max_iter: 200, learning_rate: 0.1}"


def test_the_issue_params_are_refused_naming_field_and_limit(monkeypatch):
    monkeypatch.delenv("AIRFLOW__MLOPS__ESTIMATOR_PARAM_LIMITS", raising=False)
    text = RIDE.replace(PARAMS, "params: {n_estimators: 1000000000, n_jobs: 4096, max_iter: 200}")
    problems = {p.field: p for p in _problems(text)}
    assert set(problems) == {"training.params.n_estimators", "training.params.n_jobs"}
    assert "limit of 5,000" in problems["training.params.n_estimators"].message
    assert "limit of 16" in problems["training.params.n_jobs"].message
    assert all(p.line == _line_of(text, "n_estimators") for p in problems.values())
    assert "estimator_param_limits" in problems["training.params.n_jobs"].message


@pytest.mark.parametrize(
    "params",
    ["{max_depth: .inf}", "{max_iter: 1.0e12}", "{hidden_layer_sizes: [100, 1000000]}", "{n_jobs: .nan}"],
)
def test_floats_lists_and_specials_are_bounded(params):
    problems = _problems(RIDE.replace(PARAMS, f"params: {params}"))
    assert len(problems) == 1 and problems[0].field.startswith("training.params.")


def test_limits_come_from_the_deployment(monkeypatch):
    text = RIDE.replace(PARAMS, "params: {n_estimators: 20000, n_jobs: 32}")
    monkeypatch.setenv("AIRFLOW__MLOPS__ESTIMATOR_PARAM_LIMITS", "n_estimators=20000, n_jobs = 32")
    assert parse_spec(text).training.params["n_estimators"] == 20000
    monkeypatch.setenv("AIRFLOW__MLOPS__ESTIMATOR_PARAM_LIMITS", "n_estimators=100")
    assert {p.field for p in _problems(text)} == {"training.params.n_estimators", "training.params.n_jobs"}
    monkeypatch.setenv("AIRFLOW__MLOPS__ESTIMATOR_PARAM_LIMITS", "n_estimators=lots")
    [problem] = _problems(text)
    assert problem.field == "training.params" and "not name=integer" in problem.message


def test_limits_from_airflow_cfg_apply_in_the_cli(tmp_path):
    home = tmp_path / "airflow"
    home.mkdir()
    (home / "airflow.cfg").write_text("[mlops]\nestimator_param_limits = max_iter=100\n")
    spec = tmp_path / "dags" / "ride_demand.yaml"
    spec.parent.mkdir()
    spec.write_text(RIDE.replace("rule_files: [configs/rules/marketplace.yaml]", "rule_files: []"))
    env = {"PATH": "/usr/bin:/bin", "AIRFLOW_HOME": str(home), "AIRFLOW_MLOPS_HOME": str(tmp_path / "mlops")}
    out = run_cli(["airflow-mlops", "validate", str(spec)], env=env, timeout=120)
    assert out.returncode == 1
    assert f"{spec}:{_line_of(RIDE, 'max_iter')}: training.params.max_iter: 200 is above" in out.stderr
    assert "limit of 100" in out.stderr


def test_parsing_a_spec_never_imports_sklearn():
    code = (
        "import sys; from airflow_mlops.spec import load_spec; "
        f"load_spec({str(PROJECT / 'dags' / 'ride_demand.yaml')!r}); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sklearn', 'pandas', 'mlflow')))"
    )
    out = run_cli([sys.executable, "-c", code], timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
