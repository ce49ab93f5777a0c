-- One login role and one database per service, least privilege; run by postgres-init.sh (psql, as the
-- superuser) on the first start of an empty data volume. Idempotent: re-running resets passwords and grants.
-- psql variables: airflow_password, mlflow_password, scores_password, feast_password.
\set ON_ERROR_STOP on

SELECT format('CREATE ROLE %I', r)
FROM unnest(ARRAY['airflow', 'mlflow', 'scores', 'feast']) AS r
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) \gexec

ALTER ROLE airflow LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'airflow_password';
ALTER ROLE mlflow LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'mlflow_password';
ALTER ROLE scores LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'scores_password';
ALTER ROLE feast LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'feast_password';

-- Each database is owned by its service's role (migrations create tables in its public schema).
SELECT format('CREATE DATABASE %I OWNER %I', d, d)
FROM unnest(ARRAY['airflow', 'mlflow', 'scores', 'feast']) AS d
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = d) \gexec

ALTER DATABASE airflow OWNER TO airflow;
ALTER DATABASE mlflow OWNER TO mlflow;
ALTER DATABASE scores OWNER TO scores;
ALTER DATABASE feast OWNER TO feast;

-- No role but the owner (and the superuser) may connect to a service's database, nor to the maintenance one.
REVOKE ALL ON DATABASE airflow, mlflow, scores, feast, postgres FROM PUBLIC;
