"""The PostgreSQL database of a benchmark run: scratch, or kept for `--reuse`."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

logger = logging.getLogger(__name__)

SERVER_URL = "postgresql+psycopg://postgres@127.0.0.1:5432"


@contextmanager
def scratch_database(name: str, server_url: str = SERVER_URL) -> Iterator[str]:
    """Create database `name` (dropping a leftover one), yield its URL, drop it."""
    _execute(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _execute(server_url, f'CREATE DATABASE "{name}"')
    logger.info("created PostgreSQL database %s", name)
    try:
        yield f"{server_url}/{name}"
    finally:
        _execute(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        logger.info("dropped PostgreSQL database %s", name)


@contextmanager
def kept_database(
    name: str, fresh: bool, server_url: str = SERVER_URL
) -> Iterator[str]:
    """Yield the URL of database `name` and leave it in place afterwards.

    With `fresh`, an existing database of that name is dropped and created
    again first; otherwise it is created only if missing.
    """
    if fresh:
        _execute(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    if fresh or not exists(name, server_url):
        _execute(server_url, f'CREATE DATABASE "{name}"')
        logger.info("created PostgreSQL database %s", name)
    yield f"{server_url}/{name}"


def exists(name: str, server_url: str = SERVER_URL) -> bool:
    import psycopg

    with psycopg.connect(_libpq_url(server_url) + "/postgres") as connection:
        row = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
        ).fetchone()
    return row is not None


def vacuum_analyze(url: str) -> None:
    """Run VACUUM ANALYZE on the database at `url`.

    ANALYZE collects the planner's statistics, and VACUUM sets the
    visibility map that index-only scans need to skip the table rows.
    Autovacuum does both some time after a bulk load, when it is on. It is
    off on some servers, and without them a search took up to ten times
    longer and the team summary 40% longer. pgbench runs VACUUM after
    loading too.
    """
    import psycopg

    with psycopg.connect(_libpq_url(url), autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")


def server_version(server_url: str = SERVER_URL) -> str:
    import psycopg

    with psycopg.connect(_libpq_url(server_url) + "/postgres") as connection:
        row = connection.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "unknown"


def reachable(server_url: str = SERVER_URL) -> bool:
    import psycopg

    try:
        with psycopg.connect(_libpq_url(server_url) + "/postgres", connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


def _execute(server_url: str, statement: str) -> None:
    import psycopg

    # CREATE and DROP DATABASE cannot run inside a transaction block.
    with psycopg.connect(
        _libpq_url(server_url) + "/postgres", autocommit=True
    ) as connection:
        connection.execute(statement)


def _libpq_url(server_url: str) -> str:
    return server_url.replace("postgresql+psycopg://", "postgresql://", 1)
