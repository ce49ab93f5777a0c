"""Batch scoring: the scores table layout, the writers (PostgreSQL binary COPY, SQLite) and the scorer."""
