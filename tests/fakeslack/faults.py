"""Scripted faults: outages, rate limits, slow replies and Slack errors."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class Fault:
    """One scripted reply to the next call of a method.

    A fault with `status` 200 and no `error` only delays the call by `delay`
    seconds, after which the fake handles it as usual. That is what a client
    timeout looks like when Slack did act on the request: the message is
    posted, but the client never sees the reply.

    With `acts`, the fake handles the call first and then sends the fault's
    reply (after `delay`): Slack did the work, but the client sees an error
    or a timeout. A message posted so shows in history `visible_after`
    seconds later on the workspace's clock. With `drop`, the fake closes
    the connection instead of replying, and the client sees it reset.
    """

    status: int = 200
    error: str | None = None
    retry_after: int | None = None
    delay: float = 0.0
    body: str | None = None
    acts: bool = False
    visible_after: float = 0.0
    drop: bool = False

    @classmethod
    def server_error(cls, status: int = 500) -> Fault:
        return cls(status=status, error="fatal_error")

    @classmethod
    def rate_limited(cls, retry_after: int = 1) -> Fault:
        return cls(status=429, error="ratelimited", retry_after=retry_after)

    @classmethod
    def slow(cls, delay: float) -> Fault:
        return cls(delay=delay)

    @classmethod
    def late_success(
        cls,
        *,
        visible_after: float = 0.0,
        delay: float = 0.0,
        status: int = 200,
        drop: bool = False,
    ) -> Fault:
        """Slack posts, but the client sees `status`, a timeout or a reset.

        For a timeout, make `delay` longer than the client's timeout; for a
        reset, pass `drop`. The message is in history only `visible_after`
        seconds after the post, on the workspace's clock.
        """
        error = "fatal_error" if status >= 500 else None
        return cls(
            status=status,
            error=error,
            delay=delay,
            acts=True,
            visible_after=visible_after,
            drop=drop,
        )

    @classmethod
    def slack_error(cls, error: str) -> Fault:
        return cls(error=error)

    @property
    def replaces_reply(self) -> bool:
        return self.status != 200 or self.error is not None


class FaultQueue:
    """Per-method queues of faults, each used by exactly one call."""

    def __init__(self) -> None:
        self._queues: dict[str, deque[Fault]] = {}
        self._lock = threading.Lock()

    def add(self, method: str, faults: tuple[Fault, ...]) -> None:
        with self._lock:
            self._queues.setdefault(method, deque()).extend(faults)

    def take(self, method: str) -> Fault | None:
        with self._lock:
            queue = self._queues.get(method)
            if not queue:
                return None
            return queue.popleft()

    def pending(self, method: str) -> int:
        with self._lock:
            return len(self._queues.get(method, ()))

    def clear(self) -> None:
        with self._lock:
            self._queues.clear()
