"""The PostgreSQL test server is real: it answers SQL."""

import psycopg


def test_postgres_server_answers(pg):
    with psycopg.connect(pg.dsn) as conn:
        assert conn.execute("select 40 + 2").fetchone()[0] == 42
        assert conn.info.server_version >= 150000
