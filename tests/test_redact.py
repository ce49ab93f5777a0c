"""URI redaction and registration with Airflow's secrets masker."""

from __future__ import annotations

import pytest

from airflow_mlops.redact import mask_uri, redact_text, redact_uri, secrets_of


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("http://bob:s3cret@mlflow:5000/api", "http://***@mlflow:5000/api"),
        ("https://ghp_TOKEN@github.com/x", "https://***@github.com/x"),
        ("postgresql+psycopg://u:p%40ss@db:5432/mlflow", "postgresql+psycopg://***@db:5432/mlflow"),
        ("http://u:p@ss:w@rd@host/x", "http://***@host/x"),  # unescaped @ in the password
        (
            "s3://bucket/a?X-Amz-Signature=abc&X-Amz-Credential=k&part=1",
            "s3://bucket/a?X-Amz-Signature=***&X-Amz-Credential=***&part=1",
        ),
        ("https://h/x?access_token=t&page=2", "https://h/x?access_token=***&page=2"),
        ("sqlite:////tmp/mlflow.db", "sqlite:////tmp/mlflow.db"),
        ("http://mlflow:5000", "http://mlflow:5000"),
        ("", ""),
    ],
)
def test_redact_uri(uri, expected):
    assert redact_uri(uri) == expected


def test_redact_text_finds_uris_and_literal_secrets():
    text = "cannot reach 'http://bob:s3cret@mlflow:5000/api/2.0' (password s3cret), retrying"
    assert redact_text(text, "s3cret") == "cannot reach 'http://***@mlflow:5000/api/2.0' (password ***), retrying"
    huge = "x" * 1_000_000 + " http://a:b@c/"
    assert redact_text(huge).endswith(" http://***@c/")


def test_mask_uri_registers_the_secrets_with_airflows_masker():
    from airflow.sdk._shared.secrets_masker import redact

    uri = "http://bob:pw-4d8f2a@mlflow:5000/?token=tok-91c3"
    assert secrets_of(uri) == ["pw-4d8f2a", "tok-91c3"]
    assert mask_uri(uri) == "http://***@mlflow:5000/?token=***"
    logged = redact(f"library error for {uri} with pw-4d8f2a")
    assert "pw-4d8f2a" not in logged and "tok-91c3" not in logged, logged
