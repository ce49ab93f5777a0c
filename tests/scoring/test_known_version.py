"""The score task hands the version its alias lookup read to the verified load (one registry read less).

What the caller passes is checked exactly as a fresh read would be: a forged or missing digest tag on it is
refused, and it must name the version being loaded. Uses the tamper tests' trained versions (real MLflow store,
real training operator).
"""

from __future__ import annotations

import dataclasses

import pytest

from tests.security.test_model_tamper import MODEL, TAMPERED, home, trained  # noqa: F401  (fixtures)


def test_known_champion_loads_and_saves_a_registry_read(trained, monkeypatch):  # noqa: F811
    from mlflow.tracking import MlflowClient

    hook, _, _ = trained
    champion = hook.version_by_alias(MODEL, "champion")
    reads = []
    real = MlflowClient.get_model_version
    monkeypatch.setattr(MlflowClient, "get_model_version", lambda self, *a, **k: reads.append(a) or real(self, *a, **k))
    model = hook.load_model(champion.name, champion.version, known=champion)
    assert hasattr(model, "predict") and reads == []
    hook.load_model(champion.name, champion.version)
    assert reads == [(MODEL, champion.version)]


def test_known_version_is_checked_like_a_fresh_read(trained):  # noqa: F811
    from airflow_mlops.hooks.model_artifact import UnsealedModelError

    hook, results, _ = trained
    champion = hook.version_by_alias(MODEL, "champion")
    other = hook.get_version(MODEL, results[1]["model_version"])
    with pytest.raises(ValueError, match="the version given is"):
        hook.load_model(MODEL, champion.version, known=other)
    forged = dataclasses.replace(champion, tags={**champion.tags, "mlops.model_sha256": "0" * 64})
    with pytest.raises(Exception, match=TAMPERED):
        hook.load_model(MODEL, champion.version, known=forged)
    with pytest.raises(UnsealedModelError):
        hook.load_model(MODEL, champion.version, known=dataclasses.replace(champion, tags={}))
