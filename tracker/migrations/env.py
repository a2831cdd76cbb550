"""Alembic environment: runs migrations on the connection expbot passes in."""

from alembic import context
from sqlalchemy import Connection, create_engine

from tracker.models import Base

target_metadata = Base.metadata
# APScheduler keeps its job store in this table of the same database; it is
# not part of expbot's schema, so autogenerate must not drop it.
SCHEDULER_TABLES = {"expbot_apscheduler_jobs"}


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    return not (type_ == "table" and name in SCHEDULER_TABLES)


def run_migrations() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        # `alembic` run by hand: use the URL from the command line config.
        url = context.config.get_main_option("sqlalchemy.url")
        if url is None:
            raise SystemExit(
                "Set sqlalchemy.url, e.g. `alembic -x ...` or alembic.ini."
            )
        with create_engine(url).begin() as own_connection:
            _run_on(own_connection)
        return
    _run_on(connection)


def _run_on(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_object=include_object,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
