"""Datasets and monitoring reports in object storage (moto's S3 server through an aws connection):
written, read back, listed and served, nothing on the local disk, and nothing read from outside the root."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from .conftest import files_under


def frame(rows: int = 2_000) -> pd.DataFrame:
    return pd.DataFrame(
        {"zone_id": range(rows), "x": [i * 0.5 for i in range(rows)], "z": [str(i % 7) for i in range(rows)]}
    )


def test_datasets_round_trip_through_s3_and_leave_the_home_empty(storage, tmp_path):
    from airflow_mlops import settings
    from airflow_mlops.datasets import file_digest, newest_parquet, parquet_file, read_parquet, save_parquet

    folder = settings.model_datasets_dir("m", "score")
    assert str(folder) == f"{storage.url}/datasets/m/score"
    data = frame()
    path, digest = save_parquet(data, folder)
    again, digest_again = save_parquet(data, folder)  # content-addressed: the same object, written once
    assert (str(again), digest_again) == (str(path), digest)
    assert storage.keys("datasets") == [f"{storage.prefix}/datasets/m/score/{digest}.parquet"]
    location = str(path)  # what goes to XCom and run tags
    assert location.startswith(f"{storage.url}/datasets/m/score/")
    pd.testing.assert_frame_equal(read_parquet(location), data)
    assert file_digest(location) == digest
    with parquet_file(location, pre_buffer=False) as parquet:
        assert sum(b.num_rows for b in parquet.iter_batches(batch_size=300)) == len(data)
    quarantined, _ = save_parquet(data.head(3), folder / "quarantine")
    assert read_parquet(str(quarantined)).shape == (3, 3)
    assert str(newest_parquet(folder)) in {str(path), str(quarantined)}
    assert files_under(tmp_path / "mlops") == []


def test_a_tampered_object_changes_its_digest(storage):
    from airflow_mlops import settings
    from airflow_mlops.datasets import file_digest, save_parquet

    path, digest = save_parquet(frame(50), settings.model_datasets_dir("m", "train"))
    storage.s3.client().put_object(
        Bucket=storage.s3.bucket, Key=f"{storage.prefix}/datasets/m/train/{digest}.parquet", Body=b"PAR1 tampered"
    )
    assert file_digest(str(path)) != digest


@pytest.mark.parametrize(
    "where",
    [
        "s3://{conn}@other-bucket/x.parquet",  # another bucket, same credentials
        "{url}/../escape.parquet",  # dot segments
        "{url}/./datasets/x.parquet",
        "{url}-sibling/x.parquet",  # a prefix that only starts like the root
        "s3://aws_default@{bucket}/{prefix}/x.parquet",  # another connection
        "file:///etc/passwd",
    ],
)
def test_readers_refuse_urls_outside_the_storage_root(storage, where):
    from airflow_mlops.datasets import OutsideStorageError, exists, file_digest, read_parquet

    url = where.format(conn=storage.conn_id, url=storage.url, bucket=storage.s3.bucket, prefix=storage.prefix)
    for read in (read_parquet, file_digest, exists):
        with pytest.raises(OutsideStorageError):
            read(url)


def test_without_storage_url_datasets_stay_local_paths(tmp_path, monkeypatch):
    from pathlib import Path

    from airflow_mlops import settings
    from airflow_mlops.datasets import OutsideStorageError, read_parquet, save_parquet

    monkeypatch.delenv("AIRFLOW__MLOPS__STORAGE_URL", raising=False)
    monkeypatch.setenv("AIRFLOW_MLOPS_HOME", str(tmp_path / "mlops"))
    folder = settings.model_datasets_dir("m", "score")
    assert isinstance(folder, Path) and folder == tmp_path / "mlops" / "datasets" / "m" / "score"
    path, digest = save_parquet(frame(10), folder)
    assert path == folder / f"{digest}.parquet" and read_parquet(str(path)).shape == (10, 3)
    with pytest.raises(OutsideStorageError, match="none configured"):
        read_parquet("s3://aws_default@bucket/x.parquet")


class FakeSnapshot:
    """What save_report needs of an Evidently snapshot (the real one is exercised by the DAG test)."""

    def __init__(self, html: str) -> None:
        self.html = html

    def save_html(self, path: str) -> None:
        open(path, "w").write(self.html)

    def save_json(self, path: str) -> None:
        open(path, "w").write(json.dumps({"metrics": []}))


def test_monitoring_reports_live_in_the_store_and_the_plugin_serves_them(storage, tmp_path):
    from fastapi.testclient import TestClient

    from airflow_mlops.monitoring.store import list_reports, read_report_file, save_report
    from airflow_mlops.plugins.reports_app import create_app

    rid = "20260301T000000Z"
    headline = save_report("ride_demand", rid, FakeSnapshot("<p>Drift report</p>"), {"drift": {"share": 0.5}})
    assert headline["html"] == f"{storage.url}/reports/ride_demand/monitoring/{rid}/report.html"
    assert storage.keys("reports") == [
        f"{storage.prefix}/reports/ride_demand/monitoring/{rid}/{name}"
        for name in ("headline.json", "report.html", "report.json")
    ]
    assert files_under(tmp_path / "mlops") == []
    assert [h["report_id"] for h in list_reports()] == [rid] == [h["report_id"] for h in list_reports("ride_demand")]
    assert read_report_file("ride_demand", rid, "report.html") == b"<p>Drift report</p>"

    # a foreign object below reports/ with a hostile name, and an oversized headline, are never listed or served
    client = storage.s3.client()
    bad = f"{storage.prefix}/reports/ride_demand/monitoring"
    client.put_object(Bucket=storage.s3.bucket, Key=f"{bad}/..%2F..%2Fx/headline.json", Body=b"{}")
    client.put_object(Bucket=storage.s3.bucket, Key=f"{bad}/20260302T000000Z/headline.json", Body=b" " * (2 << 20))
    assert [h["report_id"] for h in list_reports()] == [rid]

    app = TestClient(create_app(require_login=False))
    page = app.get(f"/ride_demand/{rid}/report.html")
    assert page.status_code == 200 and page.text == "<p>Drift report</p>"
    assert "sandbox" in page.headers["content-security-policy"]
    assert rid in app.get("/").text
    assert [h["report_id"] for h in app.get("/api/reports").json()] == [rid]
    for probe in (
        f"/ride_demand/{rid}/headline.json",
        f"/ride_demand/{rid}/..%2Freport.html",
        "/ride_demand/20260302T000000Z/report.html",
        f"/Ride_Demand/{rid}/report.html",
        f"/ride_demand/{rid}x/report.html",
    ):
        assert app.get(probe).status_code == 404, probe
