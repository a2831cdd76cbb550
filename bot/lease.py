"""A lease row that lets one process at a time run the scheduler.

The holder renews the lease well before it expires. A standby process
takes it over only once it has expired, so after a crash the scheduler
resumes within one lease term. Expiry is compared with the processes'
own clocks (UTC), which must agree to well within the term, as NTP keeps
them.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite

from tracker import models
from tracker.errors import StorageError

if TYPE_CHECKING:
    from tracker import Tracker

logger = logging.getLogger(__name__)


def new_holder_id() -> str:
    """Return an id naming this process: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Lease:
    """The lease `name` as seen by one would-be holder."""

    def __init__(
        self,
        tracker: Tracker,
        name: str,
        *,
        holder: str | None = None,
        term: dt.timedelta = dt.timedelta(seconds=60),
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.tracker = tracker
        self.name = name
        self.holder = holder or new_holder_id()
        self.term = term
        self.clock = clock or tracker.clock

    def acquire(self) -> bool:
        """Take or renew the lease, and return whether this holder has it now."""
        now = self.clock()
        with self.tracker.db.write() as session:
            session.execute(self._insert_ignored(now))
            row = session.get(
                models.Lease, self.name, with_for_update=True, populate_existing=True
            )
            assert row is not None, "the lease row was just inserted"
            if row.holder != self.holder and row.expires_at > now:
                return False
            if row.holder != self.holder:
                logger.info(
                    "lease %s taken over by %s from %s (expired %s)",
                    self.name,
                    self.holder,
                    row.holder,
                    row.expires_at.isoformat(),
                )
            row.holder = self.holder
            row.expires_at = now + self.term
            return True

    def release(self) -> None:
        """Give the lease up at once, so a standby need not wait for expiry."""
        with self.tracker.db.write() as session:
            session.execute(
                delete(models.Lease).where(
                    models.Lease.name == self.name, models.Lease.holder == self.holder
                )
            )

    def current_holder(self) -> str | None:
        """Return who holds the lease now, or None if it is free or expired."""
        now = self.clock()
        with self.tracker.db.read() as session:
            row = session.get(models.Lease, self.name)
            if row is None or row.expires_at <= now:
                return None
            return row.holder

    def _insert_ignored(self, now: dt.datetime) -> Any:
        values = {
            "name": self.name,
            "holder": self.holder,
            "expires_at": now + self.term,
        }
        dialect = self.tracker.db.dialect
        if dialect == "sqlite":
            return sqlite.insert(models.Lease).values(**values).on_conflict_do_nothing()
        if dialect == "postgresql":
            statement = postgresql.insert(models.Lease).values(**values)
            return statement.on_conflict_do_nothing()
        raise StorageError(
            f"The scheduler lease needs SQLite or PostgreSQL, not {dialect}: set "
            "EXPBOT_DATABASE_URL to one of them."
        )
