"""Object storage fixtures: moto's S3 server (a real HTTP S3 endpoint), an aws connection and a storage_url."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.stack import S3Server, moto_s3

BUCKET = "mlops-state"


@dataclass(frozen=True)
class Storage:
    s3: S3Server
    conn_id: str
    url: str  # the storage_url: s3://<conn_id>@<bucket>/<prefix>
    prefix: str

    def keys(self, under: str = "") -> list[str]:
        return sorted(self.s3.keys(f"{self.prefix}/{under}"))

    def env(self) -> dict[str, str]:
        """What a worker needs: the aws connection and the storage URL."""
        conn = f"AIRFLOW_CONN_{self.conn_id.upper()}"
        return {conn: self.s3.airflow_conn_json, "AIRFLOW__MLOPS__STORAGE_URL": self.url}


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    with moto_s3(bucket=BUCKET) as s3:
        yield s3


@pytest.fixture
def storage(s3_server, tmp_path, monkeypatch) -> Storage:
    """A fresh prefix in the bucket as ``[mlops] storage_url``, an empty MLOps home; returns the Storage."""
    port = s3_server.endpoint.rsplit(":", 1)[1]
    conn_id = f"mlops_s3_{port}"  # Airflow caches a filesystem per conn id in the process: one per server
    prefix = f"t/{tmp_path.name}"
    found = Storage(s3_server, conn_id, f"s3://{conn_id}@{BUCKET}/{prefix}", prefix)
    for key, value in found.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AIRFLOW_MLOPS_HOME", str(tmp_path / "mlops"))
    return found


def files_under(folder: Path) -> list[str]:
    """Files (not folders) below ``folder``, relative."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) if folder.exists() else []
