"""``airflow-mlops validate`` is the early gate: whatever a run (or a DAG parse) would fail on, it rejects first.

Each defect is checked to come back as ``file:line: field: message``; a property test mutates the
example spec and compares ``validate`` with an oracle that is the real thing (scikit-learn fitting the
estimator, Airflow's own timetable validation, Feast's own feature-ref resolution, the promote step's
rule loading, the train task's code on a frame with exactly the training set's columns).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_mlops.cli.validate import check
from airflow_mlops.spec import load_spec
from airflow_mlops.spec.paths import PROJECT_ENV

from ..conftest import PROJECT, airflow_env, run_cli

RIDE = (PROJECT / "dags" / "ride_demand.yaml").read_text()
CHURN = (PROJECT / "dags" / "rider_churn.yaml").read_text()
HEAVY = ("mlflow", "great_expectations", "evidently", "feast", "sklearn", "pandas")


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """A project folder: dags/ for the spec and a copy of configs/ (Feast repo, rule files)."""
    (tmp_path / "dags").mkdir()
    shutil.copytree(PROJECT / "configs", tmp_path / "configs", ignore=shutil.ignore_patterns("__pycache__", "data"))
    monkeypatch.setenv(PROJECT_ENV, str(tmp_path))
    return tmp_path


def _validate(project: Path, text: str, name: str = "model.yaml", **kwargs) -> list[str]:
    path = project / "dags" / name
    path.write_text(text)
    return [str(p) for p in check(path, **kwargs)[1]]


def _expect(problems: list[str], path: Path, line: int, field: str, *words: str) -> None:
    prefix = f"{path}:{line}: {field}: "
    hits = [p for p in problems if p.startswith(prefix)]
    assert hits, f"no {prefix!r} in {problems}"
    assert all(w in hits[0] for w in words), hits[0]


def test_examples_pass_every_deep_check():
    for path in ("ride_demand.yaml", "rider_churn.yaml"):
        spec, problems = check(PROJECT / "dags" / path)
        assert problems == [] and spec is not None


@pytest.mark.parametrize(
    ("old", "new", "field", "words"),
    [
        ("HistGradientBoostingRegressor", "HistGradientBoostingRegresor", "training.estimator", ["no attribute"]),
        (
            "sklearn.ensemble.HistGradientBoostingRegressor",
            "sklearn.nope.Model",
            "training.estimator",
            ["cannot import"],
        ),
        ("HistGradientBoostingRegressor", "HistGradientBoostingClassifier", "training.estimator", ["not a regressor"]),
        (
            "sklearn.ensemble.HistGradientBoostingRegressor",
            "sklearn.preprocessing.StandardScaler",
            "training.estimator",
            ["not a regressor"],
        ),
        ("max_iter: 200", "max_iterr: 200", "training.params.max_iterr", ["did you mean 'max_iter'"]),
        ("max_iter: 200", "max_iter: lots", "training.params.max_iter", ["'max_iter' parameter", "'lots'"]),
        ("learning_rate: 0.1", "learning_rate: -1", "training.params.learning_rate", ["Got -1"]),
    ],
)
def test_estimator_defects_named_on_their_line(project, old, new, field, words):
    text = RIDE.replace(old, new)
    problems = _validate(project, text)
    _expect(problems, project / "dags" / "model.yaml", _line_of(text, new.split(":")[0].split(".")[-1]), field, *words)


def test_every_param_problem_at_once(project):
    text = RIDE.replace("{max_iter: 200, learning_rate: 0.1}", "{max_iterr: 200, learning_rate: fast, l2_reg: 1}")
    problems = _validate(project, text)
    fields = {p.split(": ")[1] for p in problems}
    assert {"training.params.max_iterr", "training.params.learning_rate", "training.params.l2_reg"} <= fields


def test_smoke_fit_finds_what_only_fit_checks(project):
    text = CHURN.replace("params: {C: 1.0, max_iter: 500}", "params: {C: 1.0, penalty: l1}")
    problems = _validate(project, text)
    _expect(problems, project / "dags" / "model.yaml", _line_of(text, "penalty: l1"), "training.params", "l1")
    nb = CHURN.replace("linear_model.LogisticRegression", "naive_bayes.MultinomialNB").replace(
        "params: {C: 1.0, max_iter: 500}", "params: {}"
    )
    problems = _validate(project, nb)
    assert any("Negative values" in p for p in problems), problems
    assert _validate(project, nb, fit=False) == []


@pytest.mark.parametrize("cron", ["every half hour", "*/30 * * *", "0 0 * * 8", "0 0 30 2 *", "@every 5m", ""])
def test_bad_cron_is_a_spec_problem_when_loading(project, cron):
    text = RIDE.replace('score: "@daily"', f'score: "{cron}"')
    for deep in (True, False):
        problems = _validate(project, text, deep=deep)
        _expect(problems, project / "dags" / "model.yaml", _line_of(text, "schedule:"), "schedule.score")


def test_once_train_with_new_data_retraining(project):
    text = RIDE.replace('train: "@weekly"', 'train: "@once"')
    _expect(_validate(project, text, deep=False), project / "dags" / "model.yaml", 8, "schedule.train", "new_data")
    assert _validate(project, text.replace("drift, new_data, metric_drop", "drift, metric_drop")) == []


def test_rule_files_missing_or_broken_named_at_their_line(project):
    path = project / "dags" / "model.yaml"
    text = RIDE.replace("configs/rules/marketplace.yaml", "configs/rules/nope.yaml")
    _expect(_validate(project, text), path, _line_of(text, "rule_files"), "promotion.rule_files[0]", "not found")
    rules = project / "configs" / "rules" / "marketplace.yaml"
    good = rules.read_text()
    rules.write_text(good.replace('when: metrics["mae"] > 8', 'when: metrics["mae"] >> 8'))
    problems = _validate(project, RIDE)
    _expect(problems, rules, _line_of(good, "when:"), "action_rules[0].when")
    rules.write_text(good.replace("action: notify", "action: page"))
    _expect(
        _validate(project, RIDE), rules, _line_of(good, "action: notify"), "action_rules[0].callback_actions[0].action"
    )
    trigger = "{action: trigger_dag, dag_id: other_model__train}"
    rules.write_text(good.replace('{action: notify, message: "marketplace model above the MAE budget"}', trigger))
    line = _line_of(good, "action: notify")
    _expect(_validate(project, RIDE), rules, line, "action_rules[0].callback_actions[0].dag_id", "own DAGs")
    rules.write_text("selection_rules: [\n")
    assert any(p.startswith(f"{rules}:") and "(yaml)" in p for p in _validate(project, RIDE))


@pytest.mark.parametrize(
    ("old", "new", "field", "words"),
    [
        ("zone_hourly:temperature", "zone_hourly:temprature", "features.refs[2]", ["did you mean 'temperature'"]),
        ("zone_hourly:temperature", "zone_daily:temperature", "features.refs[2]", ["no feature view 'zone_daily'"]),
        ("feature_service: ride_demand", "feature_service: ride_demnd", "features.feature_service", ["ride_demand"]),
        (
            "feature_service: ride_demand",
            "feature_service: rider_churn",
            "features.feature_service",
            ["does not serve"],
        ),
        ("entity: zone_id", "entity: zone", "features.entity", ["joins on zone_id"]),
    ],
)
def test_features_checked_against_the_feast_repo(project, old, new, field, words):
    text = RIDE.replace(old, new)
    _expect(_validate(project, text), project / "dags" / "model.yaml", _line_of(text, new), field, *words)


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("slices: [zone_type]", "slices: [zone_kind]", "training.slices[0]"),
        ("holdout: {by: event_timestamp", "holdout: {by: created_at", "training.holdout.by"),
        ("categorical: [zone_type]", "categorical: [trips]", "training.categorical[0]"),
        ("    hour: {type: int", "    hours: {type: int", "validation.columns.hours"),
        ("freshness: {column: event_timestamp", "freshness: {column: ts", "validation.freshness.column"),
        ("zone_hourly:hour\n", "zone_hourly:hour\n    - zone_hourly:hour\n", "features.refs[1]"),
    ],
)
def test_columns_named_must_exist_at_load_time(project, old, new, field):
    text = RIDE.replace(old, new)
    problems = _validate(project, text, deep=False)
    assert any(p.split(": ")[1] == field for p in problems), problems
    assert all(p.startswith(f"{project / 'dags' / 'model.yaml'}:") for p in problems)


def test_long_tag_is_a_spec_problem(project):
    text = RIDE.replace("domain: UberX", f"domain: {'x' * 101}")
    _expect(_validate(project, text, deep=False), project / "dags" / "model.yaml", 5, "model.domain", "100")


def test_validate_no_deep_imports_no_heavy_library(project):
    path = project / "dags" / "model.yaml"
    path.write_text(RIDE.replace("max_iter: 200", "max_iterr: 200"))
    code = (
        "import sys\nfrom airflow_mlops.cli.validate import check\n"
        f"print(check({str(path)!r}, deep=False)[1])\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))"
    )
    import subprocess

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == ["[]", "[]"], out.stdout


@pytest.mark.slow
def test_parse_time_failure_names_yaml_file_line_and_field(tmp_path):
    """A schedule Airflow refuses is this spec's import error with its file, line and field; other DAGs load."""
    from airflow_mlops.factory import write_stubs

    dags = tmp_path / "dags"
    shutil.copytree(PROJECT / "dags", dags, ignore=shutil.ignore_patterns("__pycache__"))
    bad = RIDE.replace("name: ride_demand", "name: half_hourly").replace('score: "@daily"', 'score: "every half hour"')
    (dags / "half_hourly.yaml").write_text(bad)
    long_tag = RIDE.replace("name: ride_demand", "name: tagged").replace("team: marketplace", f"team: {'t' * 120}")
    (dags / "tagged.yaml").write_text(long_tag)
    write_stubs(dags)
    env = airflow_env(tmp_path / "home", dags)
    assert run_cli(["airflow", "db", "migrate"], env).returncode == 0
    errors = run_cli(["airflow", "dags", "list-import-errors", "--local", "-B", "dags-folder", "-o", "json"], env)
    assert f"half_hourly.yaml:{_line_of(bad, 'schedule:')}: schedule.score: not a cron expression" in errors.stdout
    assert f"tagged.yaml:{_line_of(long_tag, 'team:')}: model.team: becomes a DAG tag" in errors.stdout
    listed = run_cli(["airflow", "dags", "list", "--local", "-B", "dags-folder", "-o", "plain"], env)
    assert "ride_demand__score" in listed.stdout and "half_hourly__" not in listed.stdout
    for spec in ("half_hourly.yaml", "tagged.yaml"):
        out = run_cli(["airflow-mlops", "validate", "--no-deep", str(dags / spec)], env)
        assert out.returncode == 1, out.stdout


# --- property: validate rejects every mutation a run would fail on -------------------------------------

ESTIMATORS = [
    "sklearn.linear_model.Ridge",
    "sklearn.linear_model.LogisticRegression",
    "sklearn.ensemble.RandomForestRegressor",
    "sklearn.ensemble.HistGradientBoostingClassifier",
    "sklearn.neighbors.KNeighborsRegressor",
    "sklearn.svm.SVR",
    "sklearn.preprocessing.StandardScaler",
    "sklearn.cluster.KMeans",
    "sklearn.ensemble.RandomForest",
    "sklearn.linear.Ridge",
]
PARAM_VALUES = st.one_of(
    st.integers(-3, 300), st.floats(-2, 2, allow_nan=False), st.sampled_from(["abc", "auto", None])
)
COLUMNS = ["zone_type", "hour", "trips", "zone_id", "event_timestamp", "zone", "temp", "created"]
CRONS = st.one_of(
    st.sampled_from(["@hourly", "@daily", "@once", "@midnight", "0 0 30 2 *", "61 * * * *", "*/15 * * * *", "x"]),
    st.text(alphabet="0123456789*/,- LW#@abcdefghijklmnopqrstuvwxyz", max_size=20),
)


def _tiny_xy(task: str):
    from sklearn.datasets import make_classification, make_regression

    if task == "regression":
        return make_regression(n_samples=40, n_features=5, random_state=0)
    return make_classification(n_samples=40, n_features=5, random_state=0)


def _estimator_fails(dotted: str, params: dict, task: str) -> bool:
    """The real thing: import the class, check its kind, construct it with the params and fit tiny data."""
    import importlib
    import warnings

    from sklearn.base import is_classifier, is_regressor

    module, _, name = dotted.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module), name)
        est = cls(**params)
        kind_ok = is_regressor(est) if task == "regression" else is_classifier(est) and hasattr(est, "predict_proba")
        if not kind_ok:
            return True
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(*_tiny_xy(task))
    except Exception:
        return True
    return False


def _schedule_fails(expression: str) -> bool:
    """Airflow's own schedule handling: the timetable a DAG makes of the string, validated as the DAG bag does."""
    from airflow.sdk.definitions.dag import _create_timetable

    try:
        _create_timetable(expression.strip(), "UTC").validate()
    except Exception:
        return True
    return False


def _refs_fail(refs: list[str], service: str | None) -> bool:
    """Feast's own resolution of feature refs (as get_historical_features does) against the repo's views."""
    from feast.repo_operations import parse_repo
    from feast.utils import _group_feature_refs, _validate_feature_refs

    from airflow_mlops.spec.deep.feast_repo import _importable

    repo = (PROJECT / "configs" / "feature_repo").resolve()
    with _importable(repo):
        contents = parse_repo(repo)
    try:
        _validate_feature_refs(refs)
        _group_feature_refs(refs, contents.feature_views, contents.on_demand_feature_views)
    except Exception:
        return True
    if service is None:
        return False
    services = {s.name: s for s in contents.feature_services}
    if service not in services:
        return True
    served = {f"{p.name}:{f.name}" for p in services[service].feature_view_projections for f in p.features}
    return not set(refs) <= served


def _columns_fail(spec, slices: list[str], by: str) -> bool:
    """The train task's code on a frame with exactly a training set's columns."""
    from airflow_mlops.spec.deep.smoke import synthetic_frame
    from airflow_mlops.training.fit import train

    mutated = spec.model_copy(deep=True)
    mutated.training.slices = slices
    mutated.training.holdout.by = by
    try:
        train(synthetic_frame(mutated, {}), mutated)
    except Exception:
        return True
    return False


def _rules_fail(spec_path: Path, spec) -> bool:
    from airflow_mlops.promotion.rulesets import RuleFileError, rules_for
    from airflow_mlops.spec.deep.rulefiles import resolve_project

    try:
        rules_for(spec, lambda name: resolve_project(spec_path, name))
    except (RuleFileError, ValueError):
        return True
    return False


@st.composite
def mutations(draw):
    """(yaml text, what the oracle must judge): one to three mutations of the ride_demand spec."""
    import yaml

    data = yaml.safe_load(RIDE)
    kinds = draw(
        st.sets(st.sampled_from(["estimator", "param", "cron", "columns", "rules", "refs"]), min_size=1, max_size=3)
    )
    if "estimator" in kinds:
        data["training"]["estimator"] = draw(st.sampled_from(ESTIMATORS))
        data["training"]["params"] = {}
    if "param" in kinds:
        name = draw(st.sampled_from(["max_iter", "max_iterr", "learning_rate", "learnin_rate", "alpha", "max_depth"]))
        data["training"]["params"][name] = draw(PARAM_VALUES)
    if "cron" in kinds:
        data["schedule"][draw(st.sampled_from(["train", "score", "monitor"]))] = draw(CRONS)
    if "columns" in kinds:
        data["training"]["slices"] = draw(st.lists(st.sampled_from(COLUMNS), max_size=2, unique=True))
        data["training"]["holdout"]["by"] = draw(st.sampled_from(COLUMNS))
    if "rules" in kinds:
        data["promotion"]["rule_files"] = draw(
            st.lists(st.sampled_from(["configs/rules/marketplace.yaml", "configs/rules/gone.yaml"]), max_size=2)
        )
    if "refs" in kinds:
        views = st.sampled_from(["zone_hourly", "rider_activity", "zone_daily"])
        feats = st.sampled_from(["hour", "temperature", "temprature", "zone_type", "tenure_days", "trips_lag_1h"])
        refs = draw(st.lists(st.builds(lambda v, f: f"{v}:{f}", views, feats), min_size=1, max_size=4))
        data["features"]["refs"] = refs
        data["features"]["feature_service"] = draw(st.sampled_from([None, "ride_demand", "rider_churn"]))
        data["validation"]["columns"] = {}
        data["training"]["slices"] = []
        data["training"]["categorical"] = []
    return yaml.safe_dump(data, sort_keys=False)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=mutations())
def test_validate_rejects_every_mutation_a_run_fails_on(project, text):
    path = project / "dags" / "mutant.yaml"
    path.write_text(text)
    _, problems = check(path)
    import yaml

    data = yaml.safe_load(text)
    t, f = data["training"], data["features"]
    fails = {
        "estimator": _estimator_fails(t["estimator"], t["params"], data["model"]["task"]),
        "schedule": any(v is not None and _schedule_fails(str(v)) for v in data["schedule"].values()),
        "refs": _refs_fail(f["refs"], f.get("feature_service")),
    }
    if not problems:  # only a loadable spec can be run through the remaining real code paths
        spec = load_spec(path)
        fails["columns"] = _columns_fail(spec, t["slices"], t["holdout"]["by"])
        fails["rules"] = _rules_fail(path, spec)
    failing = [k for k, v in fails.items() if v]
    assert not failing or problems, f"a run would fail on {failing} but validate said ok:\n{text}"
    assert all(str(p).startswith(f"{path}:") or "/configs/rules/" in str(p) for p in problems), problems
