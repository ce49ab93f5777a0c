"""The overview's parts without a server: charts escape and skip junk, one broken store blanks only its section,
and the same-origin check of the rollback form."""

from __future__ import annotations

import json
import re

import pytest
from fastapi import HTTPException
from starlette.requests import Request

from airflow_mlops.plugins.charts import BOTTOM, HEIGHT, TOP, line_chart
from airflow_mlops.plugins.overview import collect
from airflow_mlops.plugins.overview_app import check_same_origin
from airflow_mlops.plugins.overview_page import render
from tests.conftest import PROJECT

HOSTILE = "</svg><script>alert(1)</script>"


def test_chart_escapes_labels_and_draws_only_finite_values():
    svg = line_chart(HOSTILE, ["a", HOSTILE, "c", "d"], [(HOSTILE, [0.1, float("nan"), None, float("inf")])])
    assert "<script>" not in svg and svg.count("<svg") == 1 and svg.endswith("</svg>")
    assert svg.count("class='point'") == 1  # NaN, None and inf are no points
    assert line_chart("t", [], []).startswith("<p class='empty'>")
    assert line_chart("t", ["a"], [("s", ["x", None])]).startswith("<p class='empty'>")
    flat = line_chart("t", ["a", "b"], [("s", [2.0, 2.0])], threshold=2.0)  # no zero-height axis
    middle = f"{TOP + (HEIGHT - TOP - BOTTOM) / 2:.1f}"  # a flat series sits mid-plot
    assert re.findall(r"cy='([\d.]+)'", flat) == [middle, middle] and "nan" not in flat


def test_a_broken_store_blanks_its_section_only(tmp_path, monkeypatch):
    home = tmp_path / "home"
    (home / "reports" / "ride_demand" / "monitoring" / "20260301T000000Z").mkdir(parents=True)
    headline = {"drift": {"share": 0.5, "threshold": 0.3, "detected": True}, "quality": {"mae": 4.0}}
    (home / "reports/ride_demand/monitoring/20260301T000000Z/headline.json").write_text(json.dumps(headline))
    monkeypatch.setenv("AIRFLOW_MLOPS_HOME", str(home))
    # a scores "database" that is a folder; MLflow at a closed port
    (tmp_path / "scores.db").mkdir()
    monkeypatch.setenv(
        "AIRFLOW_CONN_SCORES_DB", json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "scores.db")})
    )
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    # a remote MLflow rules out the embedded state DB: the state DB is a connection of its own, healthy here
    state = tmp_path / "state.db"
    monkeypatch.setenv("AIRFLOW_CONN_MLOPS_STATE", json.dumps({"conn_type": "sqlite", "host": str(state)}))
    view = collect("ride_demand", PROJECT / "dags" / "ride_demand.yaml")
    assert set(view.errors) == {"mlflow", "scores"}, view.errors
    assert view.reports and view.reports[0]["drift"]["share"] == 0.5
    assert not (home / "promotion").exists() and not state.exists()  # no history yet: nothing created by reading
    page = render([view], {"ride_demand": False})
    assert "<p class='err'>mlflow: " in page and "<p class='err'>scores: " in page
    assert page.count("class='point'") == 2 and "You may not trigger ride_demand__rollback" in page


def _request(**headers: str) -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    return Request({"type": "http", "method": "POST", "path": "/", "headers": raw})


@pytest.mark.parametrize(
    ("headers", "ok"),
    [
        ({"host": "airflow:8080", "origin": "http://airflow:8080"}, True),
        ({"host": "airflow:8080", "referer": "https://airflow:8080/mlops-reports/overview"}, True),
        ({"host": "airflow:8080"}, False),
        ({"host": "airflow:8080", "origin": "null", "referer": "http://airflow:8080/"}, False),
        ({"host": "airflow:8080", "origin": "http://airflow:8080.evil.example"}, False),
        ({"host": "airflow:8080", "origin": "http://evil.example", "referer": "http://airflow:8080/"}, False),
        ({"host": "airflow:8080", "origin": "javascript://airflow:8080"}, False),
        ({"origin": "http://airflow:8080"}, False),
    ],
)
def test_same_origin_check(headers, ok):
    if ok:
        check_same_origin(_request(**headers))
    else:
        with pytest.raises(HTTPException) as refused:
            check_same_origin(_request(**headers))
        assert refused.value.status_code == 403
