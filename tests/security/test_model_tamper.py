"""Registered models load only as the training DAG wrote them (issue 12).

A real model is trained and registered by MLflowTrainOperator, scored once, then its registered files are
tampered with the way someone with write access to the MLflow artifact store could. Every way a model is loaded
(the score task, ``airflow-mlops reproduce``, the servability probe of promotion/rollback, the evaluate task) must
refuse, and the pickle payload's canary file must never appear.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import pickle
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from tests.training.conftest import make_context, spec_path, write_training_set

pytestmark = pytest.mark.slow  # trains two real models and loads them ~20 times

MODEL = "ride_demand"
TAMPERED = "model artifact changed since registration"
PICKLE_REFUSED = "refuses pickle deserialization"
LOGICAL_DATE = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
LATER_DATE = datetime(2024, 6, 2, 12, 0, tzinfo=UTC)


class Payload:
    """Unpickling this runs ``touch <canary>``: what a rewritten MLmodel + model.pkl did to the scoring process."""

    def __init__(self, canary: Path) -> None:
        self.canary = canary

    def __reduce__(self):
        return (os.system, (f"touch {self.canary}",))


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """A private MLOps home (embedded SQLite MLflow store) and a SQLite scores connection."""
    home = tmp_path_factory.mktemp("tamper-home")
    mp = pytest.MonkeyPatch()
    mp.setenv("AIRFLOW_MLOPS_HOME", str(home))
    mp.delenv("MLFLOW_TRACKING_URI", raising=False)
    mp.setenv("AIRFLOW_CONN_SCORES_TAMPER", json.dumps({"conn_type": "sqlite", "host": str(home / "scores.db")}))
    yield home
    mp.undo()


@pytest.fixture(scope="module")
def trained(home):
    """Two versions trained by the real operator: v1 becomes champion and is scored once, v2 is the challenger."""
    from airflow_mlops.datasets import file_digest
    from airflow_mlops.hooks.mlflow import MLflowHook
    from airflow_mlops.operators.train import MLflowTrainOperator

    path = write_training_set(MODEL, home / "datasets" / "train.parquet", zones=6, days=10)
    upstream = {"validate": {"dataset": str(path), "digest": file_digest(path)}}
    results = []
    for n in range(2):
        operator = MLflowTrainOperator(task_id="train", spec_path=spec_path(MODEL), **upstream["validate"])
        results.append(operator.execute(make_context(MODEL, "train", upstream, run_id=f"manual__{n}")))
    hook = MLflowHook()
    hook.set_alias(MODEL, "champion", results[0]["model_version"])
    assert _score(path, LOGICAL_DATE)["rows"] > 0  # the untampered champion scores
    return hook, results, path


def _score(dataset: Path, when: datetime) -> dict:
    from airflow_mlops.operators.score import BatchScoreOperator

    op = BatchScoreOperator(
        task_id="score", spec_path=spec_path(MODEL), dataset=str(dataset), scores_conn_id="scores_tamper"
    )
    return op.execute({"logical_date": when, "run_id": f"scheduled__{when:%Y-%m-%d}"})


def _rows(when: datetime) -> int:
    """Champion rows stored for ``when``."""
    from airflow_mlops.hooks.scores_db import ScoresDbHook

    return len(ScoresDbHook("scores_tamper").predictions(_table(), MODEL, "champion", when))


def _table():
    from airflow_mlops.scoring.table import ScoresTable

    return ScoresTable("ride_demand_scores", "zone_id")


def _reproduce(when: datetime) -> tuple[int, str]:
    from airflow_mlops.cli.main import main

    out = io.StringIO()
    args = ["reproduce", MODEL, "--logical-date", when.isoformat(), "--spec", spec_path(MODEL)]
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = main([*args, "--conn-id", "scores_tamper"])
    return code, out.getvalue()


def _evaluate(result: dict) -> dict:
    from airflow_mlops.operators.evaluate import EvaluateOperator

    inputs = {"dataset": result["dataset"], "model_version": result["model_version"], "run_id": result["run_id"]}
    op = EvaluateOperator(task_id="evaluate", spec_path=spec_path(MODEL), **inputs)
    return op.execute(make_context(MODEL, "evaluate", {"train": result}, run_id="manual__eval"))


def _folder(hook, version: str) -> Path:
    from mlflow.utils.file_utils import local_file_uri_to_path

    return Path(local_file_uri_to_path(hook.get_conn().get_model_version_download_uri(MODEL, version)))


@contextlib.contextmanager
def tampered(hook, version: str):
    """The registered files of ``version`` (a local folder here) restored after the test changed them."""
    folder = _folder(hook, version)
    backup = folder.parent / "backup"
    shutil.copytree(folder, backup)
    try:
        yield folder
    finally:
        shutil.rmtree(folder)
        backup.rename(folder)


def to_pickle(folder: Path, canary: Path) -> None:
    """Rewrite MLmodel to ``serialization_format: pickle`` pointing at a model.pkl that runs the payload."""
    meta = yaml.safe_load((folder / "MLmodel").read_text())
    meta["flavors"]["sklearn"].update(serialization_format="pickle", pickled_model="model.pkl")
    meta["flavors"]["sklearn"].pop("skops_trusted_types", None)
    meta["flavors"]["python_function"]["model_path"] = "model.pkl"
    (folder / "MLmodel").write_text(yaml.safe_dump(meta))
    (folder / "model.pkl").write_bytes(pickle.dumps(Payload(canary)))
    (folder / "model.skops").unlink()


def reseal(hook, version: str) -> None:
    """What an attacker who can also write MLflow tags does: record the digests of the tampered files."""
    hook.seal_version(MODEL, version)


def _refusals(hook, results, path: Path, version: str, expect: str) -> int:
    """Every load path refuses ``version`` with ``expect`` in the message; returns how many refused."""
    from airflow_mlops.promotion.servability import check_servable

    refused = 0
    with pytest.raises(Exception, match=expect):  # the score task: nothing is written
        _score(path, LATER_DATE)
    assert _rows(LATER_DATE) == 0
    refused += 1

    code, out = _reproduce(LOGICAL_DATE)  # reproduce: exit 1, says why
    assert code == 1 and expect in out, out
    refused += 1

    served = check_servable(MODEL, version, tracking_uri=hook.tracking_uri, sample=path)  # promotion / rollback probe
    assert not served.ok and expect in served.detail, served.detail
    refused += 1

    with pytest.raises(Exception, match=expect):  # evaluate: the tampered champion against a clean challenger
        _evaluate(results[1])
    refused += 1

    with pytest.raises(Exception, match=expect):  # the hook's door (monitoring report, anything else)
        hook.load_model(MODEL, version)
    return refused + 1


def test_untampered_version_loads_everywhere(trained):
    from airflow_mlops.promotion.servability import check_servable

    hook, results, path = trained
    version = results[0]["model_version"]
    code, out = _reproduce(LOGICAL_DATE)
    assert code == 0 and "match" in out, out
    served = check_servable(MODEL, version, tracking_uri=hook.tracking_uri, sample=path)
    assert served.ok, served.detail
    assert _evaluate(results[1])["champion"]["version"] == version


def test_pickle_mlmodel_rewrite_is_refused_and_payload_never_runs(trained, tmp_path):
    hook, results, path = trained
    version = results[0]["model_version"]
    canary = tmp_path / "canary"
    with tampered(hook, version) as folder:
        to_pickle(folder, canary)
        # The test can fail: MLflow's own loader (what scoring used) runs the payload from these very files.
        old = subprocess.run(
            [sys.executable, "-c", "import sys, mlflow.sklearn; mlflow.sklearn.load_model(sys.argv[1])", str(folder)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert canary.exists(), old.stderr[-2000:]
        canary.unlink()

        assert _refusals(hook, results, path, version, TAMPERED) == 5
        reseal(hook, version)  # digests forged too: the loader still never unpickles
        assert _refusals(hook, results, path, version, PICKLE_REFUSED) == 5
    assert not canary.exists()
    reseal(hook, version)  # restore the real seal for the other tests


def test_changed_skops_bytes_are_refused(trained):
    hook, results, path = trained
    version = results[0]["model_version"]
    with tampered(hook, version) as folder:
        other = _folder(hook, results[1]["model_version"]) / "model.skops"  # a valid model, just not this one
        shutil.copy(other, folder / "model.skops")
        assert _refusals(hook, results, path, version, TAMPERED) == 5


def test_untrusted_types_are_refused_even_with_forged_digests(trained):
    import skops.io
    from sklearn.preprocessing import FunctionTransformer

    hook, results, _path = trained
    version = results[0]["model_version"]
    with tampered(hook, version) as folder:
        skops.io.dump(FunctionTransformer(func=os.system), folder / "model.skops")
        with pytest.raises(Exception, match=TAMPERED):
            hook.load_model(MODEL, version)
        reseal(hook, version)
        with pytest.raises(Exception, match="types outside scikit-learn/numpy/scipy"):
            hook.load_model(MODEL, version)
    reseal(hook, version)
    assert hook.load_model(MODEL, version) is not None


def test_version_tag_alone_cannot_vouch_for_a_model(trained):
    hook, results, _path = trained
    version = results[0]["model_version"]
    client = hook.get_conn()
    real = client.get_model_version(MODEL, version).tags["mlops.model_sha256"]
    client.set_model_version_tag(MODEL, version, "mlops.model_sha256", "0" * 64)
    try:
        with pytest.raises(Exception, match=TAMPERED):
            hook.load_model(MODEL, version)
    finally:
        client.set_model_version_tag(MODEL, version, "mlops.model_sha256", real)


def test_hand_registered_version_is_never_a_candidate_nor_loaded(trained):
    import mlflow

    from airflow_mlops.hooks.model_artifact import UnsealedModelError
    from airflow_mlops.promotion.candidates import NOT_OURS, gather
    from airflow_mlops.promotion.servability import check_servable
    from airflow_mlops.spec import load_spec

    hook, results, path = trained
    source = hook.get_conn().get_model_version(MODEL, results[1]["model_version"]).source
    hook.configure()
    manual = str(mlflow.register_model(source, MODEL).version)  # same good files, registered by hand: no seal

    with pytest.raises(UnsealedModelError, match="not registered by the airflow-mlops training DAG"):
        hook.load_model(MODEL, manual)
    served = check_servable(MODEL, manual, tracking_uri=hook.tracking_uri, sample=path)
    assert not served.ok and "not registered by the airflow-mlops training DAG" in served.detail

    spec = load_spec(spec_path(MODEL))
    evaluation = {"challenger": {"version": manual, "metrics": {"mae": 0.0, "bias": 0.0}}, "champion": None}
    by_version = {c.version: c for c in gather(spec, "production", evaluation, hook)}
    assert by_version[manual].excluded == NOT_OURS  # even as the evaluated challenger with perfect metrics
    assert all(by_version[r["model_version"]].excluded is None for r in results)


def test_servability_subprocess_gets_the_tracking_uri_from_the_environment(trained, monkeypatch):
    from airflow_mlops.promotion import servability

    hook, results, path = trained
    seen = {}
    real_run = subprocess.run

    def spy(cmd, **kwargs):
        seen["argv"], seen["env"] = cmd, kwargs["env"]
        return real_run(cmd, **kwargs)

    monkeypatch.setattr(servability.subprocess, "run", spy)
    uri = hook.tracking_uri
    assert servability.check_servable(MODEL, results[1]["model_version"], tracking_uri=uri, sample=path).ok
    assert not any(uri in arg for arg in seen["argv"]) and seen["env"]["MLFLOW_TRACKING_URI"] == uri


def test_servability_probe_runs_inside_a_task_process(trained, monkeypatch):
    """Airflow's supervisor sets an unparsable metadata DB URL in task processes; the probe must still start."""
    from airflow_mlops.promotion.servability import check_servable

    hook, results, path = trained
    for key in ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__CORE__SQL_ALCHEMY_CONN"):
        monkeypatch.setenv(key, "airflow-db-not-allowed:///")
    served = check_servable(MODEL, results[0]["model_version"], tracking_uri=hook.tracking_uri, sample=path)
    assert served.ok, served.detail


def test_no_other_code_deserializes_models():
    """Convention: the only model loader is hooks/model_artifact.py; nothing sets MLflow's pickle switch."""
    import re

    from tests.conftest import PROJECT

    banned = re.compile(
        r"(\bmlflow\.[a-z_]+\.load_model|pyfunc\.load_model|pickle\.loads?\(|cloudpickle|joblib\.load|"
        r"MLFLOW_ALLOW_PICKLE_DESERIALIZATION|skops\.io\.loads?\()"
    )
    offenders = [
        f"{path.relative_to(PROJECT)}:{n}: {line.strip()}"
        for path in sorted((PROJECT / "airflow_mlops").rglob("*.py"))
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if banned.search(line) and path.name != "model_artifact.py"
    ]
    assert offenders == []
    loader = (PROJECT / "airflow_mlops" / "hooks" / "model_artifact.py").read_text()
    assert "skops.io.load(path, trusted=found)" in loader and "pickle.load" not in loader
