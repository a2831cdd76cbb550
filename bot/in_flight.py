"""Slash commands and button clicks that this process is handling.

The dispatcher routes an outbox backlog in short transactions in the same
process. Between two transactions it waits while a request is in flight,
because a large backlog after a bulk import or downtime otherwise keeps a
core and the GIL busy, and answers slow down several times over.
"""

from __future__ import annotations

import threading


class RequestsInFlight:
    """A count of requests being handled, and a way to wait until it is 0."""

    def __init__(self) -> None:
        self._count = 0
        self._changed = threading.Condition()

    @property
    def count(self) -> int:
        with self._changed:
            return self._count

    def begin(self) -> None:
        with self._changed:
            self._count += 1

    def end(self) -> None:
        """Mark one request as handled. Each `begin` must be matched by one `end`."""
        with self._changed:
            if self._count == 0:
                raise RuntimeError("end() called with no request in flight")
            self._count -= 1
            if self._count == 0:
                self._changed.notify_all()

    def wait_until_idle(self, timeout: float) -> bool:
        """Wait until no request is in flight, at most `timeout` seconds.

        Returns whether the process was idle when the wait ended.
        """
        with self._changed:
            return self._changed.wait_for(lambda: self._count == 0, timeout)


# The one instance that the router and the dispatcher of a process share.
REQUESTS = RequestsInFlight()
