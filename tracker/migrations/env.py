"""Alembic environment: runs migrations on the connection expbot passes in."""

from alembic import context
from sqlalchemy import Connection, create_engine

from tracker.models import Base

target_metadata = Base.metadata


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
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
