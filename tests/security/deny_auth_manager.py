"""A test auth manager: SimpleAuthManager, except that one user may not read one model's DAGs.

SimpleAuthManager grants every role all DAGs, so per-model authorization needs this to be testable.
Selected with ``AIRFLOW__CORE__AUTH_MANAGER=tests.security.deny_auth_manager.DenyOneModelAuthManager``.
"""

from __future__ import annotations

from typing import Any

from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager

DENIED_USER = "analyst"
DENIED_MODEL = "secret_model"


class DenyOneModelAuthManager(SimpleAuthManager):
    """``analyst`` gets no access to any DAG whose id starts with ``secret_model__``."""

    def is_authorized_dag(self, *, method: Any, user: Any, access_entity: Any = None, details: Any = None) -> bool:
        if user.get_name() == DENIED_USER and details is not None and str(details.id).startswith(f"{DENIED_MODEL}__"):
            return False
        return super().is_authorized_dag(method=method, user=user, access_entity=access_entity, details=details)
