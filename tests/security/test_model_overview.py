"""The model overview page inside a real `airflow api-server`: what serves, its history, plots, and a rollback form.

The state is written with the stores' own writers (MLflow through the hook, the alias history, the scores
writer, the reports store), for two models: ``ride_demand`` and ``secret_model`` (which the test auth
manager keeps user ``analyst``, a viewer, away from). Their DAGs are serialized by ``airflow dags
reserialize``, so the rollback form creates real DAG runs through the REST API. Chromium, logged in as
the admin, reads the page, checks the SVG plots and submits the form; raw HTTP tries the refusals.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.conftest import PROJECT, airflow_env
from tests.security.api_server import api_server
from tests.security.deny_auth_manager import DENIED_MODEL, DENIED_USER

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

PAGE = "/mlops-reports/overview"
POST = "/mlops-reports/overview/rollback"
MODELS = ("ride_demand", DENIED_MODEL)
DAYS = [datetime(2026, 3, d, 6, tzinfo=UTC) for d in (1, 2, 3)]
REPORTS = 5
HOSTILE = "<script>alert(1)</script>"  # secret_model's history and gate reasons: must come out escaped
SCREENSHOTS = (
    PROJECT / "docs" / "screenshots"
    if os.environ.get("MLOPS_UPDATE_SCREENSHOTS") == "1"
    else PROJECT / "tests" / "artifacts" / "screenshots"
)


@dataclass
class Server:
    base: str
    root: Path
    tokens: dict[str, str]

    def headers(self, user: str, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}", **extra}

    def get(self, path: str, user: str = "admin") -> httpx.Response:
        return httpx.get(self.base + path, headers=self.headers(user), timeout=60)

    def post_form(self, form: dict[str, str], user: str = "admin", **headers: str) -> httpx.Response:
        hdrs = self.headers(user, **headers)
        return httpx.post(self.base + POST, data=form, headers=hdrs, timeout=60, follow_redirects=False)

    def rollback_runs(self, model: str) -> list[dict]:
        reply = self.get(f"/api/v2/dags/{model}__rollback/dagRuns")
        assert reply.status_code == 200, reply.text
        return reply.json()["dag_runs"]


class _Snapshot:
    """Stands in for an Evidently snapshot: the page reads only the headline, so the report files are stubs."""

    def save_html(self, path: str) -> None:
        Path(path).write_text("<html><body>Data Drift Summary</body></html>")

    def save_json(self, path: str) -> None:
        Path(path).write_text("{}")


def write_dags(folder: Path) -> None:
    """ride_demand's spec and stub, and the same spec as ``secret_model``."""
    folder.mkdir()
    spec, stub = (PROJECT / "dags" / "ride_demand.yaml").read_text(), (PROJECT / "dags" / "ride_demand.py").read_text()
    for model in MODELS:
        text = spec.replace("name: ride_demand", f"name: {model}").replace("ride_demand_scores", f"{model}_scores")
        (folder / f"{model}.yaml").write_text(text)
        (folder / f"{model}.py").write_text(stub.replace("ride_demand.yaml", f"{model}.yaml"))


def write_state(root: Path, dags: Path) -> None:
    """Per model: three versions (metrics, gate tags), three champion moves, score runs, monitoring headlines."""
    from airflow_mlops.hooks.mlflow import MLflowHook
    from airflow_mlops.hooks.scores_db import ScoresDbHook
    from airflow_mlops.monitoring.store import save_report
    from airflow_mlops.promotion.history import AliasHistory
    from airflow_mlops.scoring.table import ScoreBatchKey, ScoresTable
    from airflow_mlops.scoring.writers import replace_scores
    from airflow_mlops.spec import load_spec
    from tests.scoring.data import batches

    hook = MLflowHook()
    client = hook.get_conn()  # the test registers bare versions (no model files): the hook has no such method
    history = AliasHistory(hook=hook)
    for model in MODELS:
        client.create_registered_model(model)
        for v, mae in ((1, 7.5), (2, 6.1), (3, 5.2)):
            run_id = hook.log_finished_run(
                f"{model}-train", f"train-{v}", tags={}, metrics={"mae": mae, "rmse": mae * 1.3, "bias": 0.1}
            )
            client.create_model_version(model, source=str(root / "no-model"), run_id=run_id)
            hook.set_version_tag(model, str(v), "mlops.gate.result", "selected" if v > 1 else "lost")
            why = HOSTILE if model == DENIED_MODEL else "mae ≤ 8; newest wins"
            hook.set_version_tag(model, str(v), "mlops.gate.reason", why if v > 1 else "an older version won")
        moves = ((1, "gate", "first model"), (2, "gate", "better mae"), (3, "alice", "fixes the airport zones"))
        if model == DENIED_MODEL:
            moves = (*moves[:2], (3, "alice", HOSTILE))
        for v, who, reason in moves:
            move = history.move(model, "champion", str(v), action="promote", reason=reason, who=who)
            assert move.applied, move

        spec = load_spec(dags / f"{model}.yaml")
        table = ScoresTable(spec.scoring.destination.table, spec.features.entity, spec.features.timestamp)
        db = ScoresDbHook(spec.scoring.destination.conn_id)
        for i, day in enumerate(DAYS):
            for role, version, rows in (("champion", "3", 300 + 50 * i), ("challenger", "2", 200)):
                key = ScoreBatchKey(model, version, role, f"run{version}", f"scheduled__{day:%Y%m%d}", day)
                replace_scores(db, table, key, batches(rows, 100, seed=i))

        for i in range(REPORTS):
            headline = {
                "champion_version": "3",
                "drift": {"share": 0.1 + 0.08 * i, "threshold": 0.3, "detected": 0.1 + 0.08 * i > 0.3},
                "quality": {"mae": 5.0 + 0.4 * i},
                "reference_rows": 300,
                "current_rows": 300,
            }
            save_report(model, f"2026030{i + 1}T060000Z", _Snapshot(), headline)


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("overview")
    dags = root / "dags"
    write_dags(dags)
    env = airflow_env(root, dags)
    with pytest.MonkeyPatch.context() as mp:
        for key in ("AIRFLOW_MLOPS_HOME", "AIRFLOW_CONN_SCORES_DB", "AIRFLOW_MLOPS_PROJECT"):
            mp.setenv(key, env[key])
        for key in ("MLFLOW_TRACKING_URI", "AIRFLOW_CONN_MLFLOW_DEFAULT", "AIRFLOW_MLOPS_HISTORY_URI"):
            mp.delenv(key, raising=False)
        write_state(root, dags)
    with api_server(env, root, reserialize=True) as (base, tokens):
        yield Server(base, root, tokens)


def test_page_lists_models_with_serving_version_history_versions_and_scores(server):
    elapsed = []
    for _ in range(2):  # the first request imports MLflow in the API server
        started = time.monotonic()
        page = server.get(PAGE)
        elapsed.append(time.monotonic() - started)
    assert page.status_code == 200, page.text[:2000]
    csp = page.headers["content-security-policy"]
    assert "script-src" not in csp and "default-src 'none'" in csp and "form-action 'self'" in csp
    text = page.text
    assert "<p class='err'>" not in text, text[text.find("<p class='err'>") :][:500]
    for model in MODELS:
        assert (
            f"<tr data-model='{model}'><td><a href='#{model}'>{model}</a></td><td class='serving-version'>v3</td>"
            in text
        )
        assert f"href='/dags/{model}__rollback'" in text and f"href='{model}/20260305T060000Z/report.html'" in text
    assert HOSTILE not in text and text.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 4  # escaped, never markup
    assert "<td>2026-03-03</td><td>champion</td><td>v3</td><td>400</td>" in text  # 300 + 50·2 rows that day
    assert "<td>2026-03-03</td><td>challenger</td><td>v2</td><td>200</td>" in text
    assert "#/experiments/" in text and "<td>alice</td>" in text and "fixes the airport zones" in text
    assert "<td>– → v1</td>" in text and "<td>v2 → v3</td>" in text
    print(f"\nOVERVIEW-FIGURES page for {len(MODELS)} models: first {elapsed[0]:.2f} s, then {elapsed[1]:.2f} s")


def test_chromium_renders_plots_and_the_rollback_form_triggers_a_run_as_the_user(server):
    from tests.security.cdp import chromium_page

    reason = "v3 over-predicts downtown since the 3rd"
    with chromium_page() as page:
        page.set_cookie("_token", server.tokens["admin"], server.base + "/")
        page.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": 1440, "height": 1800, "deviceScaleFactor": 1, "mobile": False},
        )
        page.goto(server.base + PAGE)
        assert page.wait_for("document.querySelectorAll('#summary tr[data-model]').length === 2")
        serving = page.evaluate(
            "Object.fromEntries([...document.querySelectorAll('#summary tr[data-model]')]"
            ".map(r => [r.dataset.model, r.querySelector('.serving-version').textContent]))"
        )
        points = page.evaluate(
            "[...document.querySelectorAll('#ride_demand svg.plot')]"
            ".map(s => s.querySelectorAll('circle.point').length)"
        )
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shot = page.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": False})
        (SCREENSHOTS / "model-overview.png").write_bytes(__import__("base64").b64decode(shot["data"]))

        page.evaluate(
            "(() => {const f = document.querySelector('#ride_demand form.rollback');"
            "f.version.value = '1'; f.reason.value = " + json.dumps(reason) + "; f.requestSubmit();})()"
        )
        notice = page.wait_for(
            "location.search.includes('run=') && document.querySelector('p.note') && "
            "document.querySelector('p.note').textContent"
        )

    assert serving == {"ride_demand": "v3", DENIED_MODEL: "v3"}
    # drift share and live quality: one point per report; rows per day: 2 series (champion v3, challenger v2) × 3 days
    assert points == [REPORTS, REPORTS, 2 * len(DAYS)], points
    assert notice and notice.startswith("Triggered ride_demand__rollback: DAG run "), notice
    runs = server.rollback_runs("ride_demand")
    assert len(runs) == 1 and runs[0]["conf"] == {"version": 1, "reason": reason}, runs
    assert runs[0]["triggering_user_name"] == "admin" and runs[0]["dag_run_id"] in notice
    from tests.browser import distinct_colours

    assert distinct_colours(SCREENSHOTS / "model-overview.png") > 20


def test_denied_user_sees_no_secret_model_and_cannot_trigger(server):
    origin = {"Origin": server.base}
    page = server.get(PAGE, user=DENIED_USER)
    assert page.status_code == 200 and DENIED_MODEL not in page.text and "ride_demand" in page.text
    assert "form class='rollback'" not in page.text  # a viewer may read ride_demand but not trigger its DAGs
    before = {m: len(server.rollback_runs(m)) for m in MODELS}
    form = {"version": "1", "reason": "let me in"}
    for model in MODELS:
        reply = server.post_form({**form, "model": model}, user=DENIED_USER, **origin)
        assert reply.status_code == 403, (model, reply.text)
    assert httpx.get(server.base + PAGE, timeout=30).status_code == 401
    assert httpx.post(server.base + POST, data={**form, "model": "ride_demand"}, headers=origin).status_code == 401
    assert {m: len(server.rollback_runs(m)) for m in MODELS} == before


def test_rollback_post_refuses_cross_site_empty_reason_and_bad_input(server):
    good = {"model": DENIED_MODEL, "version": "2", "reason": "drift on the 5th"}
    same = {"Origin": server.base}
    refused = [
        (good, {}, 403),  # no Origin, no Referer
        (good, {"Origin": "http://evil.example"}, 403),
        (good, {"Origin": "null"}, 403),
        (good, {"Referer": "http://evil.example/overview"}, 403),
        (good, {"Origin": server.base.replace("127.0.0.1", "localhost")}, 403),  # another origin, same server
        ({**good, "reason": "   "}, same, 400),
        ({**good, "reason": ""}, same, 400),
        ({**good, "reason": "x" * 501}, same, 400),
        ({**good, "version": "0"}, same, 400),
        ({**good, "version": "1 OR 1=1"}, same, 400),
        ({**good, "version": "9" * 30}, same, 400),
        ({**good, "model": "../etc"}, same, 404),
        ({**good, "model": "no_such_model"}, same, 404),  # authorized, valid name, but Airflow has no such DAG
    ]
    before = len(server.rollback_runs(DENIED_MODEL))
    for form, headers, status in refused:
        reply = server.post_form(form, **headers)
        assert reply.status_code == status, (form, headers, reply.status_code, reply.text)
    big = httpx.post(
        server.base + POST,
        content=b"reason=" + b"a" * 10_000,
        timeout=30,
        headers=server.headers("admin", **same, **{"Content-Type": "application/x-www-form-urlencoded"}),
    )
    assert big.status_code == 413
    as_json = httpx.post(server.base + POST, json=good, headers=server.headers("admin", **same), timeout=30)
    assert as_json.status_code == 415
    assert len(server.rollback_runs(DENIED_MODEL)) == before

    accepted = server.post_form(good, Referer=f"{server.base}{PAGE}")  # Referer alone names the origin too
    assert accepted.status_code == 303, accepted.text
    runs = server.rollback_runs(DENIED_MODEL)
    assert len(runs) == before + 1 and runs[-1]["conf"] == {"version": 2, "reason": "drift on the 5th"}
    print(f"\nOVERVIEW-FIGURES rollback posts refused: {len(refused) + 2}/{len(refused) + 2} (CSRF, reason, input)")


def test_overview_is_in_the_airflow_nav(server):
    plugins = server.get("/api/v2/plugins").json()["plugins"]
    views = [v for p in plugins for v in p.get("external_views", [])]
    assert {"name": "Model overview", "href": "/mlops-reports/overview"}.items() <= next(
        v for v in views if v["name"] == "Model overview"
    ).items()
