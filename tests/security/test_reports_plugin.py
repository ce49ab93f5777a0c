"""The reports plugin inside a real `airflow api-server`: reports are inert, paths contained, models authorized.

One API server (SQLite metadata, a test auth manager that keeps user ``analyst`` off ``secret_model``'s
DAGs) serves three kinds of report folders under the MLOps home: a real Evidently report whose
scored data carries a ``</script><script>`` payload, a clean report, and symlinks pointing out of
``reports/``. Chromium opens the payload report with the admin's session cookie; raw HTTP probes the
paths; two users' tokens check the per-model authorization.
"""

from __future__ import annotations

import http.client
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import airflow_env
from tests.security.api_server import api_server
from tests.security.deny_auth_manager import DENIED_MODEL, DENIED_USER

pytestmark = pytest.mark.slow

PREFIX = "/mlops-reports"
SECRET = "TOP-SECRET-outside-reports-7f3a"  # in every file outside reports/ that a probe aims at
RID = "20260301T000000Z"  # the payload report (ride_demand) and the clean one (secret_model)
LINKED_RID = "20260301T000001Z"  # ride_demand/monitoring/<this> is a symlink to a folder outside reports/
FILE_LINK_RID = "20260301T000002Z"  # a real folder whose report.html / report.json are symlinks to SECRET
ATTACK_KEY = "xss_from_report"
CONTROL_KEY = "control_same_origin"

# Runs wherever the page's scripts run; no double quotes or backslashes (it travels inside Evidently's JSON).
ATTACK_JS = (
    "(async()=>{const k='KEY';const out=[];const body=JSON.stringify({key:k,value:'pwned'});"
    "const tries=[['json',{method:'POST',credentials:'include',headers:{'Content-Type':'application/json'},body}],"
    "['blob',{method:'POST',credentials:'include',mode:'no-cors',body:new Blob([body])}],"
    "['read',{credentials:'include'}]];"
    "for(const [n,o] of tries){try{const r=await fetch('/api/v2/variables',o);"
    "out.push(n+':'+r.status+':'+(await r.text()).slice(0,60))}catch(e){out.push(n+':blocked:'+e.name)}}"
    "document.documentElement.setAttribute('data-probe',JSON.stringify(out))})()"
)
PAYLOAD = "</script><script>" + ATTACK_JS.replace("KEY", ATTACK_KEY) + "</script>"


@dataclass
class Server:
    base: str
    root: Path  # the MLOps home
    tokens: dict[str, str]

    def get(self, path: str, user: str = "admin") -> httpx.Response:
        return httpx.get(self.base + path, headers={"Authorization": f"Bearer {self.tokens[user]}"}, timeout=30)

    def raw_get(self, path: str, user: str = "admin") -> tuple[int, bytes]:
        """GET with the path sent byte for byte (httpx would normalize dot segments)."""
        host, port = self.base.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        try:
            conn.request("GET", path, headers={"Authorization": f"Bearer {self.tokens[user]}"})
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()


def frame(rows: int, seed: int, payload: str | None = None):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    zones = ["downtown", "suburb", payload] if payload else ["downtown", "suburb"]
    return pd.DataFrame(
        {
            "hour": rng.integers(0, 24, rows),
            "day_of_week": rng.integers(0, 7, rows),
            "temperature": rng.normal(10, 5, rows),
            "trips_lag_1h": rng.normal(50, 10, rows),
            "zone_type": rng.choice(zones, rows),
            "prediction": rng.normal(50, 10, rows),
        }
    )


def write_reports(root: Path) -> None:
    """The payload report, the clean report and the symlinks, written by the real writer code."""
    from airflow_mlops.monitoring.evidently_report import build_report
    from airflow_mlops.monitoring.store import save_report
    from airflow_mlops.spec import load_spec
    from tests.conftest import PROJECT

    spec = load_spec(PROJECT / "dags" / "ride_demand.yaml")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIRFLOW_MLOPS_HOME", str(root))
        for model, payload in (("ride_demand", PAYLOAD), (DENIED_MODEL, None)):
            snapshot, headline = build_report(spec, frame(300, 1), frame(300, 2, payload), with_quality=False)
            save_report(model, RID, snapshot, headline)
    reports = root / "reports"
    assert PAYLOAD in (reports / "ride_demand" / "monitoring" / RID / "report.html").read_text()

    (root / "secret.txt").write_text(SECRET)
    outside = root / "outside_model" / "monitoring" / RID  # a well-formed report folder outside reports/
    outside.mkdir(parents=True)
    for name in ("report.html", "report.json"):
        (outside / name).write_text(f"<p>{SECRET}</p>" if name.endswith("html") else json.dumps({"s": SECRET}))
    (outside / "headline.json").write_text(json.dumps({"report_id": RID, "model": "linked_model", "note": SECRET}))
    (reports / "linked_model").symlink_to(root / "outside_model", target_is_directory=True)
    (reports / "ride_demand" / "monitoring" / LINKED_RID).symlink_to(outside, target_is_directory=True)
    file_links = reports / "ride_demand" / "monitoring" / FILE_LINK_RID
    file_links.mkdir()
    for name in ("report.html", "report.json", "headline.json"):
        (file_links / name).symlink_to(root / "secret.txt")


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("reports-plugin")
    write_reports(root)
    with api_server(airflow_env(root), root) as (base, tokens):
        yield Server(base, root, tokens)


def tree(root: Path) -> set[str]:
    """Every path under the MLOps home but Airflow's own folder (which the server writes), links not followed."""
    found = set()
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if Path(folder, d) != root / "airflow"]
        found.update(str(Path(folder, name).relative_to(root)) for name in dirs + files)
    return found


def probes(root: Path) -> list[str]:
    """Raw request paths that must be refused: traversal, encoded traversal, absolute, symlinks, NUL, long names."""
    p, rid, long = PREFIX, RID, "a" * 300
    return [
        f"{p}/../../secret.txt",
        f"{p}/ride_demand/../../secret.txt",
        f"{p}/%2e%2e/%2e%2e/report.html",
        f"{p}/%2e%2e/{rid}/report.html",
        f"{p}/ride_demand/%2e%2e%2f%2e%2e%2f%2e%2e%2fsecret.txt/report.html",
        f"{p}/..%2F..%2F/{rid}/report.html",
        f"{p}/%2e%2e%2f%2e%2e%2foutside_model/{rid}/report.html",
        f"{p}/%2F{str(root / 'outside_model').lstrip('/').replace('/', '%2F')}/{rid}/report.html",
        f"{p}/%2Fetc/{rid}/report.html",
        f"{p}/api/reports?model=..",
        f"{p}/api/reports?model=%2e%2e%2f%2e%2e",
        f"{p}/api/reports?model=%2F{str(root / 'outside_model').lstrip('/').replace('/', '%2F')}",
        f"{p}/api/reports?model=ride_demand%00",
        f"{p}/api/reports?model={long}",
        f"{p}/linked_model/{rid}/report.html",  # symlinked model folder
        f"{p}/linked_model/{rid}/report.json",
        f"{p}/ride_demand/{LINKED_RID}/report.html",  # symlinked report folder
        f"{p}/ride_demand/{FILE_LINK_RID}/report.html",  # symlinked files
        f"{p}/ride_demand/{FILE_LINK_RID}/report.json",
        f"{p}/ride_demand/{rid}/headline.json",  # not on the file allow-list
        f"{p}/ride_demand/{rid}/report.html%00",
        f"{p}/ride_demand/{rid}/report.html%00.png",
        f"{p}/ride_demand%00/{rid}/report.html",
        f"{p}/ride_demand/{rid}%00/report.html",
        f"{p}/ride_demand/{rid}%0A/report.html",  # a trailing newline passes re.match(...$)
        f"{p}/Ride_Demand/{rid}/report.html",
        f"{p}/{long}/{rid}/report.html",
        f"{p}/ride_demand/{long}/report.html",
        f"{p}/ride_demand/{rid}/{long}",
        f"{p}/never_seen_model/{rid}/report.html",  # a valid, unknown name: 404 and no folder made
    ]


def test_path_probes_get_4xx_read_nothing_outside_and_create_nothing(server):
    before = tree(server.root)
    results = [(path, *server.raw_get(path)) for path in probes(server.root)]
    refused = [(path, status) for path, status, body in results if 400 <= status < 500 and SECRET.encode() not in body]
    assert len(refused) == len(results), [(p, s, b[:200]) for p, s, b in results if (p, s) not in refused]
    assert tree(server.root) == before  # no folder, no file: GETs write nothing
    statuses: dict[int, int] = {}
    for _, status, _ in results:
        statuses[status] = statuses.get(status, 0) + 1
    print(f"\nREPORT-FIGURES path probes refused: {len(refused)}/{len(results)}, statuses {statuses}")

    # the symlinked model and report are never listed; the listing still shows the real reports
    listed = server.get(f"{PREFIX}/api/reports").json()
    assert {(h["model"], h["report_id"]) for h in listed} == {("ride_demand", RID), (DENIED_MODEL, RID)}
    assert SECRET not in server.get(f"{PREFIX}/api/reports").text and SECRET not in server.get(f"{PREFIX}/").text
    assert server.get(f"{PREFIX}/api/reports?model=linked_model").json() == []


def test_reports_carry_the_sandbox_csp_and_nosniff(server):
    page = server.get(f"{PREFIX}/{DENIED_MODEL}/{RID}/report.html")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert csp.startswith("sandbox allow-scripts;") and "allow-same-origin" not in csp and "connect-src 'none'" in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    for path in (
        f"{PREFIX}/",
        f"{PREFIX}/api/reports",
        f"{PREFIX}/{DENIED_MODEL}/{RID}/report.json",
        f"{PREFIX}/x/y/z",
    ):
        response = server.get(path)
        assert response.headers["x-content-type-options"] == "nosniff", path
        assert "default-src 'none'" in response.headers["content-security-policy"], path
    assert "script-src" not in server.get(f"{PREFIX}/").headers["content-security-policy"]  # the index runs no script


def test_payload_in_a_report_cannot_use_the_viewers_session(server):
    from tests.security.cdp import chromium_page

    report_url = f"{server.base}{PREFIX}/ride_demand/{RID}/report.html"
    with chromium_page() as page:
        page.set_cookie("_token", server.tokens["admin"], server.base + "/")
        # control: the same script on a page of the Airflow origin does create a variable with this cookie
        page.goto(f"{server.base}/api/v2/version")
        page.wait_for("document.readyState === 'complete' && location.pathname === '/api/v2/version'")
        page.evaluate(ATTACK_JS.replace("KEY", CONTROL_KEY))
        control = json.loads(page.wait_for("document.documentElement.getAttribute('data-probe')"))
        assert control[0].startswith("json:201"), control

        page.goto(report_url)
        probe = page.wait_for("document.documentElement.getAttribute('data-probe')")
        origin = page.evaluate("self.origin")
        page.goto(f"{server.base}{PREFIX}/{DENIED_MODEL}/{RID}/report.html")  # a clean report still draws
        drawn = page.wait_for("document.body && document.body.innerText.includes('Data Drift Summary')")

    assert probe, "the payload did not run at all: the test would prove nothing"
    attempts = json.loads(probe)
    assert all(":blocked:" in a for a in attempts), attempts  # no request left the sandbox
    assert origin == "null"  # opaque origin
    assert drawn, "the sandbox broke Evidently's charts"
    assert server.get(f"/api/v2/variables/{CONTROL_KEY}").status_code == 200
    assert server.get(f"/api/v2/variables/{ATTACK_KEY}").status_code == 404
    keys = [v["key"] for v in server.get("/api/v2/variables").json()["variables"]]
    assert keys == [CONTROL_KEY], keys
    print(f"\nREPORT-FIGURES payload attempts from the report: {len(attempts)}, all blocked: {attempts}")


def test_a_user_without_access_to_the_models_dags_gets_403_and_no_listing(server):
    denied = [
        f"{PREFIX}/{DENIED_MODEL}/{RID}/report.html",
        f"{PREFIX}/{DENIED_MODEL}/{RID}/report.json",
        f"{PREFIX}/{DENIED_MODEL}/20990101T000000Z/report.html",  # no existence oracle: 403, not 404
        f"{PREFIX}/api/reports?model={DENIED_MODEL}",
    ]
    for path in denied:
        assert server.get(path, user=DENIED_USER).status_code == 403, path
        assert server.get(path, user="admin").status_code in (200, 404), path
    listed = {h["model"] for h in server.get(f"{PREFIX}/api/reports", user=DENIED_USER).json()}
    assert listed == {"ride_demand"}
    assert {h["model"] for h in server.get(f"{PREFIX}/api/reports").json()} == {"ride_demand", DENIED_MODEL}
    index = server.get(f"{PREFIX}/", user=DENIED_USER).text
    assert DENIED_MODEL not in index and "ride_demand" in index
    assert server.get(f"{PREFIX}/ride_demand/{RID}/report.json", user=DENIED_USER).status_code == 200
    assert httpx.get(f"{server.base}{PREFIX}/api/reports", timeout=30).status_code == 401
    print(f"\nREPORT-FIGURES per-model authorization: {len(denied)} requests of {DENIED_USER} refused with 403")
