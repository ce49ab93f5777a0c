#!/bin/sh
# One-shot init of the minio service (image minio/mc): buckets, and one user per client limited to its bucket
# by a policy (minio-policy-*.json). MLflow gets mlflow-artifacts (bucket mlflow), the Airflow workers
# airflow-reports (bucket mlops-reports); only this script ever sees the root credentials. Idempotent.
set -eu
mc alias set local http://minio:9000 "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null
mc mb --ignore-existing local/mlflow local/mlops-reports
mc anonymous set none local/mlflow
mc anonymous set none local/mlops-reports

grant() {  # user secret policy-file
  mc admin policy create local "$1" "$3"
  mc admin user add local "$1" "$2"
  if ! mc admin policy attach local "$1" --user "$1" 2>/tmp/attach.err; then
    grep -qi "already" /tmp/attach.err || { cat /tmp/attach.err >&2; exit 1; }
  fi
}
grant mlflow-artifacts "$MINIO_MLFLOW_SECRET" /etc/mlops/minio-policy-mlflow.json
grant airflow-reports "$MINIO_AIRFLOW_SECRET" /etc/mlops/minio-policy-reports.json
echo "minio users and policies in place"
