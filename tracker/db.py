"""Engine setup, sessions and schema migrations.

SQLite is the default: one file in `$EXPBOT_HOME/expbot.db`, in WAL mode so
readers never wait for the single writer. Write transactions start with
`BEGIN IMMEDIATE`: a deferred transaction that reads first and writes later
can fail with "database is locked" without waiting, because SQLite cannot
upgrade a stale read snapshot, whereas IMMEDIATE takes the write lock up
front and so honours the busy timeout.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from tracker.errors import DatabaseNotFound, InvalidInput, StorageError

logger = logging.getLogger(__name__)

BUSY_TIMEOUT_SECONDS = 30
MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_WRITE_OPTION = "expbot_write"


def expbot_home() -> Path:
    return Path(os.environ.get("EXPBOT_HOME") or Path.home() / ".expbot")


def default_database_url() -> str:
    configured = os.environ.get("EXPBOT_DATABASE_URL")
    if configured:
        return configured
    return f"sqlite:///{expbot_home() / 'expbot.db'}"


def normalize_url(url: str) -> str:
    """Select the psycopg 3 driver for plain PostgreSQL URLs.

    SQLAlchemy maps `postgresql://` to psycopg2, which expbot does not
    install; users copy such URLs from `psql` and other tools.
    """
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def redact(url: str) -> str:
    """Hide the password of a URL for messages and logs."""
    return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", url)


def make_engine(
    url: str | None = None, *, create: bool = True, **options: Any
) -> Engine:
    """Make an engine for `url`, by default `default_database_url()`.

    With `create=False`, a SQLite file that does not exist raises
    `DatabaseNotFound` and no file or folder is created, so a read with a
    mistyped path fails instead of returning nothing from a new database.
    """
    url = normalize_url(url or default_database_url())
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise InvalidInput(
            f"Invalid database URL {redact(url)!r}: expected e.g. "
            "`sqlite:////path/expbot.db` or `postgresql+psycopg://user@host/db`."
        ) from exc

    backend = parsed.get_backend_name()
    _check_driver(parsed, url)
    if backend == "sqlite":
        if not create:
            _require_sqlite_file(parsed)
        return _make_sqlite_engine(parsed.database, url, **options)
    if backend == "postgresql":
        return _make_postgres_engine(parsed, **options)
    raise InvalidInput(
        f"Unsupported database {backend!r} in {redact(url)!r}: expbot runs on "
        "SQLite (`sqlite:///path`) and PostgreSQL (`postgresql+psycopg://...`)."
    )


# The DBAPI driver that expbot installs and tests for each database, and
# the URL scheme that selects it.
_DRIVERS = {"sqlite": "pysqlite", "postgresql": "psycopg"}
_SCHEMES = {"sqlite": "sqlite", "postgresql": "postgresql+psycopg"}


def _check_driver(url: URL, text: str) -> None:
    """Reject a driver other than the one expbot installs for the database.

    Other drivers (psycopg2, asyncpg, pg8000) are not installed, so they
    would fail with an import error, and expbot is tested with these two only.
    """
    backend = url.get_backend_name()
    expected = _DRIVERS.get(backend)
    driver = url.get_driver_name()
    if expected is None or driver == expected:
        return
    fixed = url.set(drivername=_SCHEMES[backend])
    suggestion = redact(fixed.render_as_string(hide_password=False))
    raise InvalidInput(
        f"Unsupported database driver {driver!r} in {redact(text)!r}: expbot "
        f"uses {expected} for {backend}. Use {suggestion!r}."
    )


def _make_postgres_engine(url: URL, **options: Any) -> Engine:
    # PostgreSQL's JIT compiles a search with several EXISTS subqueries in
    # about a second, for queries that run in milliseconds without it.
    server_options = url.query.get("options", "")
    if isinstance(server_options, tuple):
        server_options = " ".join(server_options)
    server_options = f"{server_options} -c jit=off".strip()
    url = url.update_query_dict({"options": server_options})
    return create_engine(url, pool_pre_ping=True, **options)


def _require_sqlite_file(url: URL) -> None:
    database = url.database
    # An in-memory database, and a `file:` URI that SQLite parses itself,
    # name no file to check.
    if not database or database == ":memory:" or url.query.get("uri"):
        return
    if not Path(database).expanduser().exists():
        raise DatabaseNotFound(database)


def _make_sqlite_engine(database: str | None, url: str, **options: Any) -> Engine:
    if database and database != ":memory:":
        folder = Path(database).expanduser().parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(
                f"Cannot create the database folder {str(folder)!r}: "
                f"{exc.strerror}. Set EXPBOT_HOME to a writable folder."
            ) from exc
    engine = create_engine(
        url, connect_args={"timeout": BUSY_TIMEOUT_SECONDS}, **options
    )

    @event.listens_for(engine, "connect")
    def configure_connection(dbapi_connection: Any, _record: Any) -> None:
        # Autocommit at the driver level; the "begin" hook below issues BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_SECONDS * 1000}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def begin_transaction(connection: Any) -> None:
        write = connection.get_execution_options().get(_WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


class Database:
    """An engine with read and write session factories."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        reader = engine
        if self.dialect == "postgresql":
            # All statements of a read use one snapshot, as on SQLite: a
            # search's page of ids and their records, or a summary's counts,
            # cannot disagree about a write committed between two of them.
            reader = engine.execution_options(isolation_level="REPEATABLE READ")
        self._reader = reader
        self._read = sessionmaker(reader, expire_on_commit=False)
        self._write = sessionmaker(
            engine.execution_options(**{_WRITE_OPTION: True}), expire_on_commit=False
        )

    @contextmanager
    def read(self) -> Iterator[Session]:
        with translate_errors(), self._read() as session:
            yield session

    @contextmanager
    def read_connection(self) -> Iterator[Connection]:
        """Open a read transaction on a Core connection, without an ORM session.

        Search and count use it, because they build no ORM objects. Skipping
        the session saved about 0.15 ms of a 3.6 ms search with cold CPU caches.
        """
        with translate_errors(), self._reader.connect() as connection:
            with connection.begin():
                yield connection

    @contextmanager
    def write(self) -> Iterator[Session]:
        """Open a transaction that commits on success and rolls back on error."""
        with translate_errors(), self._write.begin() as session:
            yield session


@contextmanager
def translate_errors() -> Iterator[None]:
    try:
        yield
    except SQLAlchemyError as exc:
        logger.debug("database error", exc_info=True)
        original = getattr(exc, "orig", None)
        message = str(original) if original is not None else str(exc)
        first_line = message.splitlines()[0]
        raise StorageError(
            f"Database error: {first_line}{_next_step(first_line)}"
        ) from exc


_MISSING_DATABASE = re.compile(r'database "([^"]+)" does not exist')


def _next_step(message: str) -> str:
    """Return what to do about a PostgreSQL connection failure, or ""."""
    missing = _MISSING_DATABASE.search(message)
    if missing is not None:
        return (
            f". Create it with `createdb {missing.group(1)}` (add -h HOST -U USER "
            "as in the URL), or fix the database name in the URL."
        )
    if message.startswith("connection failed"):
        return (
            ". Check that the server is running and that the URL's host, port "
            "and user are right."
        )
    return ""


def alembic_config(connection: Any = None) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "the migrations folder has no revisions"
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(
            text("SELECT version_num FROM alembic_version")
        ).scalar()


def upgrade(engine: Engine) -> None:
    """Create or upgrade the schema to the newest migration.

    Several processes may start at once against a new database, so the
    upgrade runs under a lock: SQLite's write lock, or a PostgreSQL
    advisory lock held for the transaction.
    """
    from alembic import command

    with (
        translate_errors(),
        engine.execution_options(**{_WRITE_OPTION: True}).begin() as connection,
    ):
        if engine.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(7146220815)"))
        command.upgrade(alembic_config(connection), "head")
    logger.info("database schema at revision %s", head_revision())


_upgraded: set[str] = set()


def ensure_schema(engine: Engine) -> None:
    """Upgrade the schema once per process and database when it is behind."""
    key = engine.url.render_as_string(hide_password=False)
    if key in _upgraded:
        return
    with translate_errors():
        behind = current_revision(engine) != head_revision()
    if behind:
        upgrade(engine)
    _upgraded.add(key)
