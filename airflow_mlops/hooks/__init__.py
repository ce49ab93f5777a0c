"""Hooks: I/O against Feast, MLflow, the scores database and S3."""
