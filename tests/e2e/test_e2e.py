"""The real stack end to end, driven as a user would through Airflow's REST API v2.

`airflow standalone` (LocalExecutor, SQLite metadata) runs the project's DAGs against a PostgreSQL
scores database and moto's S3. Screenshots of the UI go to docs/screenshots/.
"""

from __future__ import annotations

import json
import os
import time

import jwt
import pytest

from tests import browser
from tests.conftest import PROJECT

from .stack import AWS_SECRET, CANARY_DAG, JWT_SECRET, REPORTS_BUCKET, Stack

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(1200)]

MODEL = "ride_demand"
EXPECTED_DAGS = {f"{m}__{k}" for m in ("ride_demand", "rider_churn") for k in ("train", "score", "monitor", "rollback")}
TRAIN_CONF = {"reason": "manual", "note": "e2e"}
# Screenshots land in tests/artifacts/ (ignored by git); MLOPS_UPDATE_SCREENSHOTS=1 refreshes the README's copies.
SCREENSHOTS = (
    PROJECT / "docs" / "screenshots"
    if os.environ.get("MLOPS_UPDATE_SCREENSHOTS") == "1"
    else PROJECT / "tests" / "artifacts" / "screenshots"
)


@pytest.fixture(scope="module")
def generated_dags(stack: Stack) -> dict[str, dict]:
    """The DAGs tagged airflow-mlops, once the DAG processor has serialized all of them."""
    deadline = time.monotonic() + 120
    with stack.api() as api:
        while True:
            found = api.get("/dags", params={"tags": "airflow-mlops", "limit": 100}).raise_for_status().json()
            dags = {d["dag_id"]: d for d in found["dags"]}
            if EXPECTED_DAGS <= dags.keys() or time.monotonic() > deadline:
                return dags
            time.sleep(2)


@pytest.fixture(scope="module")
def canary_run(stack: Stack, generated_dags) -> str:
    """Triggered first (it runs beside training); waited for by the log test."""
    return stack.trigger(CANARY_DAG)


@pytest.fixture(scope="module")
def train_run(stack: Stack, generated_dags, canary_run) -> str:
    run_id = stack.trigger(f"{MODEL}__train", TRAIN_CONF)
    stack.wait_for_run(f"{MODEL}__train", run_id, timeout=420)
    return run_id


@pytest.fixture(scope="module")
def score_run(stack: Stack, train_run: str) -> str:
    run_id = stack.trigger(f"{MODEL}__score")
    stack.wait_for_run(f"{MODEL}__score", run_id, timeout=300)
    return run_id


@pytest.fixture(scope="module")
def monitor_run(stack: Stack, score_run: str) -> str:
    run_id = stack.trigger(f"{MODEL}__monitor")
    stack.wait_for_run(f"{MODEL}__monitor", run_id, timeout=300)
    return run_id


def test_generated_dags_listed(stack: Stack, generated_dags):
    assert set(generated_dags) == EXPECTED_DAGS
    assert all(d["is_paused"] for d in generated_dags.values()), "new DAGs start paused"
    with stack.api() as api:
        errors = api.get("/importErrors").raise_for_status().json()
    assert errors["total_entries"] == 0, errors


def test_requests_without_a_valid_token_are_rejected(stack: Stack):
    """No token or an expired one: 401. A forged or malformed one: Airflow 3.3 answers 403 "Invalid JWT token"
    (airflow/api_fastapi/core_api/security.py), 401 would do as well. Never 2xx."""
    real = stack.token()
    header = jwt.get_unverified_header(real)
    claims = jwt.decode(real, options={"verify_signature": False})
    now = int(time.time())
    forged = jwt.encode({**claims, "exp": now + 600}, "not-the-server-secret", algorithm=header["alg"])
    expired = jwt.encode({**claims, "iat": now - 7200, "nbf": now - 7200, "exp": now - 3600}, JWT_SECRET, header["alg"])
    resigned = jwt.encode({**claims, "iat": now, "nbf": now, "exp": now + 600}, JWT_SECRET, header["alg"])
    trigger = (f"/dags/{MODEL}__train/dagRuns", {"logical_date": None})
    for token, allowed in ((None, {401}), (expired, {401}), (forged, {401, 403}), ("not.a.jwt", {401, 403})):
        with stack.api(token) as api:
            for resp in (api.get("/dags"), api.post(trigger[0], json=trigger[1])):
                assert resp.status_code in allowed, (token, resp.status_code, resp.text)
    with stack.api(None) as api:
        assert api.get("/dags").json()["detail"] == "Not authenticated"
    with stack.api(expired) as api:
        assert api.get("/dags").json()["detail"] == "Token Expired"
    with stack.api(resigned) as api:  # the same claims, validly signed and in time: accepted
        assert api.get("/dags").status_code == 200


def test_train_then_score_succeed(stack: Stack, train_run: str, score_run: str):
    with stack.api() as api:
        run = api.get(f"/dags/{MODEL}__train/dagRuns/{train_run}").raise_for_status().json()
    assert run["conf"] == TRAIN_CONF
    assert run["run_type"] == "manual"
    for dag_id, run_id, required in (
        (f"{MODEL}__train", train_run, ("materialize", "validate", "train", "evaluate", "promote")),
        (f"{MODEL}__score", score_run, ("materialize", "validate", "score")),
    ):
        tasks = {t["task_id"]: t["state"] for t in stack.task_instances(dag_id, run_id)}
        assert {t: tasks.get(t) for t in required} == dict.fromkeys(required, "success"), tasks
        assert set(tasks.values()) <= {"success", "skipped"}, tasks  # e.g. a skipped new-data signal


def test_model_version_and_champion_in_mlflow(stack: Stack, train_run: str):
    from mlflow.tracking import MlflowClient

    trained = stack.xcom(f"{MODEL}__train", train_run, "train")
    promoted = stack.xcom(f"{MODEL}__train", train_run, "promote")
    uri = f"sqlite:///{stack.mlops_home / 'mlflow' / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)  # registry too: an earlier test may have set a global one
    version = client.get_model_version(MODEL, trained["model_version"])
    assert version.run_id == trained["run_id"]
    run = client.get_run(trained["run_id"])
    assert run.data.tags["mlops.trigger_reason"] == "manual"
    assert run.data.tags["mlops.dag_run_id"] == train_run
    # first version, no champion yet: rules decide
    assert promoted["promoted"] is True, json.dumps(promoted["decision"], default=str)
    assert str(client.get_model_version_by_alias(MODEL, "champion").version) == str(promoted["version"])


def test_scores_in_postgres(stack: Stack, score_run: str):
    import psycopg
    from psycopg import sql

    result = stack.xcom(f"{MODEL}__score", score_run, "score")
    assert result["rows"] > 0
    with psycopg.connect(stack.pg.dsn) as conn:
        query = "SELECT model_name, model_version, role, count(*) FROM {} WHERE logical_date = %s::timestamptz "
        query += "GROUP BY 1, 2, 3"
        rows = conn.execute(sql.SQL(query).format(sql.Identifier(result["table"])), [result["logical_date"]]).fetchall()
        total = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(result["table"]))).fetchone()[0]
    # this run's slice (a promotion may also have refreshed the scores in a run of its own)
    written = {(name, str(version), role): n for name, version, role, n in rows}
    assert written[(MODEL, str(result["model_version"]), "champion")] == result["rows"], written
    assert total >= result["rows"]


def test_reports_in_s3(stack: Stack, monitor_run: str):
    report = stack.xcom(f"{MODEL}__monitor", monitor_run, "report")
    assert report.get("report_id"), f"no report: {report.get('skipped')}"
    assert str(report["html"]).startswith(f"s3://{REPORTS_BUCKET}/"), report["html"]
    keys = stack.s3.keys()
    html_key = str(report["html"]).removeprefix(f"s3://{REPORTS_BUCKET}/")
    assert html_key in keys, keys
    assert any(k.endswith(".json") and report["report_id"] in k for k in keys), keys
    body = stack.s3.client().get_object(Bucket=REPORTS_BUCKET, Key=html_key)["Body"].read()
    assert b"<html" in body[:2000].lower()
    local = stack.root / "evidently_report.html"
    local.write_bytes(body)
    png = browser.screenshot(local.as_uri(), SCREENSHOTS / "evidently-report.png")
    assert browser.distinct_colours(png) > 50
    assert "drift" in browser.dump_dom(local.as_uri()).lower()


def test_ui_screenshots(stack: Stack, train_run: str):
    """The UI through the stack's second api-server, in all-admins mode (no login), same metadata DB."""
    if browser.chromium() is None:
        pytest.fail("chromium missing: ./dev setup installs it")
    ui = stack.wait_for_ui()
    dags_url = f"{ui}/dags?tags=airflow-mlops"
    dom = browser.dump_dom(dags_url)
    assert all(dag_id in dom for dag_id in EXPECTED_DAGS), dom[-2000:]
    png = browser.screenshot(dags_url, SCREENSHOTS / "dags-list.png")
    assert browser.distinct_colours(png) > 50

    grid_url = f"{ui}/dags/{MODEL}__train/runs/{train_run}"
    dom = browser.dump_dom(grid_url)
    assert all(t in dom for t in ("materialize", "validate", "train", "evaluate", "promote")), dom[-2000:]
    png = browser.screenshot(grid_url, SCREENSHOTS / "train-run-grid.png")
    assert browser.distinct_colours(png) > 50
    captions = {
        "dags-list.png": "the generated DAGs of dags/ride_demand.yaml and dags/rider_churn.yaml",
        "train-run-grid.png": f"the grid of a manual `{MODEL}__train` run (conf {json.dumps(TRAIN_CONF)})",
        "evidently-report.png": "the Evidently monitoring report of ride_demand, read back from S3",
    }
    lines = [f"- `{name}`: {text}" for name, text in captions.items() if (SCREENSHOTS / name).exists()]
    (SCREENSHOTS / "README.md").write_text(
        "Written by tests/e2e/test_e2e.py (headless Chromium against a real `airflow standalone`):\n\n"
        + "\n".join(lines)
        + "\n"
    )


def _all_task_logs(stack: Stack) -> dict[str, str]:
    """Every task log of every run triggered so far, through the REST API and from the files on disk."""
    logs = {}
    for dag_id, run_id in stack.runs:
        for ti in stack.task_instances(dag_id, run_id):
            for attempt in range(1, (ti.get("try_number") or 0) + 1):
                logs[f"api:{dag_id}/{ti['task_id']}/{attempt}"] = stack.task_log(dag_id, run_id, ti["task_id"], attempt)
    for path in (stack.airflow_home / "logs").rglob("*.log"):
        if "dag_id=" in str(path):
            logs[f"file:{path}"] = path.read_text(errors="replace")
    return logs


def test_connection_passwords_in_no_task_log(stack: Stack, train_run: str, canary_run: str):
    """Runs last: covers the logs of every run the tests triggered (train, score, monitor, canary)."""
    stack.wait_for_run(CANARY_DAG, canary_run, timeout=180)
    logs = _all_task_logs(stack)
    assert sum(k.startswith("file:") for k in logs) >= 6 and sum(k.startswith("api:") for k in logs) >= 6
    canary = "\n".join(text for key, text in logs.items() if CANARY_DAG in key)
    assert "connection scores_db password=***" in canary  # the canary printed it; the masker redacted it
    for secret in (stack.pg.password, AWS_SECRET):
        leaked = [key for key, text in logs.items() if secret in text]
        assert not leaked, f"a connection password appears in {leaked}"
