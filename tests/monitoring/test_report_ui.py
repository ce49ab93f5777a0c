"""A person can read the reports: the HTML renders in headless Chromium, the plugin lists and serves them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_mlops.operators.report import EvidentlyReportOperator
from tests import browser

from .conftest import TaskInstanceStandIn, period, write_score_input


@pytest.fixture
def drift_report(home, spec_path) -> dict:
    write_score_input("ride_demand", period(7, seed=8, drift=True)[0])
    return EvidentlyReportOperator(task_id="report", spec_path=str(spec_path)).execute({"ti": TaskInstanceStandIn()})


def test_report_renders_the_drift_table_in_chromium(drift_report, tmp_path):
    url = Path(drift_report["html"]).as_uri()
    text = browser.dump_dom(url)
    # the rendered (JavaScript-built) page, not just the embedded data: the drift table's headings and rows
    assert "Data Drift Summary" in text and "Drift is detected for 60.0% of columns (3 out of 5)" in text, text[:2000]
    assert "Share of Drifted Columns" in text and "Not Detected" in text
    for column in ("temperature", "trips_lag_1h", "zone_type"):
        assert column in text

    png = browser.screenshot(url, tmp_path / "report.png", window=(1400, 1800))
    from PIL import Image

    image = Image.open(png).convert("L")
    assert image.size == (1400, 1800)
    lo, hi = image.getextrema()
    histogram = image.histogram()
    dominant = max(histogram) / sum(histogram)
    assert hi - lo > 100 and dominant < 0.97, (lo, hi, dominant)  # text and widgets, not a blank page


def test_plugin_app_lists_and_serves_reports(drift_report):
    from fastapi.testclient import TestClient

    from airflow_mlops.plugins.reports_app import create_app

    client = TestClient(create_app(require_login=False))
    index = client.get("/")
    assert index.status_code == 200
    rid = drift_report["report_id"]
    assert "ride_demand" in index.text and rid in index.text and "DRIFT" in index.text
    assert f"ride_demand/{rid}/report.html" in index.text
    listed = client.get("/api/reports", params={"model": "ride_demand"}).json()
    assert [h["report_id"] for h in listed] == [rid] and listed[0]["drift"]["detected"] is True
    page = client.get(f"/ride_demand/{rid}/report.html")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.content == Path(drift_report["html"]).read_bytes()
    assert client.get(f"/ride_demand/{rid}/report.json").json()["metrics"]
    assert client.get(f"/ride_demand/{rid}/headline.json").status_code == 404
    assert client.get("/ride_demand/..%2F..%2F/report.html").status_code == 404


def test_plugin_requires_an_airflow_login():
    from fastapi.testclient import TestClient

    from airflow_mlops.plugins.reports_app import create_app

    assert TestClient(create_app()).get("/api/reports").status_code == 401


def test_plugin_app_sends_the_sandbox_csp_and_nosniff(drift_report):
    from fastapi.testclient import TestClient

    from airflow_mlops.plugins.reports_app import REPORT_CSP, create_app

    client = TestClient(create_app(require_login=False))
    page = client.get(f"/ride_demand/{drift_report['report_id']}/report.html")
    assert page.headers["content-security-policy"] == REPORT_CSP and REPORT_CSP.startswith("sandbox allow-scripts;")
    for response in (page, client.get("/"), client.get("/api/reports"), client.get("/nope/x/report.html")):
        assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    ("model", "report_id", "name"),
    [
        ("..", "20260301T000000Z", "report.html"),
        ("../..", "..", "report.html"),
        ("/etc", "20260301T000000Z", "report.html"),
        ("ride_demand\x00", "20260301T000000Z", "report.html"),
        ("ride_demand", "20260301T000000Z\n", "report.html"),
        ("ride_demand", "20260301T000000Z", "report.html\x00"),
        ("a" * 300, "20260301T000000Z", "report.html"),
        ("ride_demand", "20260301T000000Z", "headline.json"),
        ("brand_new_model", "20260301T000000Z", "report.html"),
    ],
)
def test_store_readers_refuse_bad_names_and_write_nothing(home, model, report_id, name):
    from airflow_mlops.monitoring.store import list_reports, read_report_file

    before = sorted(str(p) for p in home.rglob("*"))
    with pytest.raises(FileNotFoundError):
        read_report_file(model, report_id, name)
    assert list_reports(model) == []
    assert sorted(str(p) for p in home.rglob("*")) == before


def test_store_readers_do_not_follow_symlinks(home, tmp_path):
    from airflow_mlops import settings
    from airflow_mlops.monitoring.store import list_reports, read_report_file

    rid = "20260301T000000Z"
    outside = tmp_path / "outside" / "monitoring" / rid
    outside.mkdir(parents=True)
    (outside / "report.html").write_text("secret")
    (outside / "headline.json").write_text(json.dumps({"report_id": rid}))
    (settings.reports_dir() / "linked").symlink_to(tmp_path / "outside", target_is_directory=True)
    real = settings.reports_dir() / "real" / "monitoring" / rid
    real.mkdir(parents=True)
    (real / "report.html").symlink_to(outside / "report.html")
    (real / "headline.json").symlink_to(outside / "headline.json")
    for model in ("linked", "real"):
        with pytest.raises(FileNotFoundError):
            read_report_file(model, rid, "report.html")
    assert list_reports() == [] and list_reports("linked") == []
