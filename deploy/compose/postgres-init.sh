#!/bin/sh
# /docker-entrypoint-initdb.d hook of the postgres service: creates the per-service roles and databases
# (postgres-roles.sql) with the passwords from the environment. Runs once, on an empty data volume.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v airflow_password="$AIRFLOW_DB_PASSWORD" \
  -v mlflow_password="$MLFLOW_DB_PASSWORD" \
  -v scores_password="$SCORES_DB_PASSWORD" \
  -v feast_password="$FEAST_DB_PASSWORD" \
  -f /etc/mlops/postgres-roles.sql
