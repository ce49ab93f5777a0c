"""Secrets backends for tests, configured through ``AIRFLOW__SECRETS__BACKEND``."""

from __future__ import annotations

from airflow.secrets import BaseSecretsBackend


class UnreachableBackend(BaseSecretsBackend):
    """A secrets backend whose service is down: every lookup raises (with a credential in the message)."""

    def get_connection(self, conn_id: str, team_name: str | None = None):
        password = "hunter2" + "-secret"  # not literal: a traceback's source line must not be what leaks
        raise ConnectionError(f"vault at https://reader:{password}@vault:8200 timed out reading {conn_id}")

    def get_variable(self, key: str, team_name: str | None = None):
        return None
