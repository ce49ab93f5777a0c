"""Harness-only shim (on the Airflow processes' PYTHONPATH): celery 5.7 dropped the ``retry`` decorator from
``celery.backends.database`` that apache-airflow-providers-celery 3.26 still imports, so every CeleryExecutor
process (scheduler, workers) fails at import. The locked pair is broken; until the lock pins celery below 5.7
this restores the name as a pass-through (celery 5.7's DatabaseBackend retries by itself: ``always_retry``).
A no-op when celery still has it. The compose image keeps the celery that apache/airflow:3.3.2 ships.
"""

try:
    import celery.backends.database as _database
except ImportError:  # celery not installed: nothing to fix
    pass
else:
    if not hasattr(_database, "retry"):
        _database.retry = lambda fun: fun
