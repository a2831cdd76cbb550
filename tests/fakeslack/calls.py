"""The record of every request that reached the fake, with waits on it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# Pseudo method names for the two endpoints that are not Web API methods.
RESPONSE_URL = "response_url"
UPLOAD_URL = "upload_url"


@dataclass(frozen=True)
class Call:
    """One request: the method, its parsed parameters and the reply sent."""

    method: str
    params: dict[str, Any]
    headers: dict[str, str]
    time: float
    path: str = ""
    status: int = 200
    response: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == 200 and bool(self.response.get("ok"))

    @property
    def error(self) -> str | None:
        error = self.response.get("error")
        return str(error) if error is not None else None


class CallLog:
    """A thread-safe list of calls that tests can wait on."""

    def __init__(self) -> None:
        self._calls: list[Call] = []
        self._changed = threading.Condition()

    def record(self, call: Call) -> None:
        with self._changed:
            self._calls.append(call)
            self._changed.notify_all()

    def select(
        self, method: str | None = None, *, ok: bool | None = None
    ) -> list[Call]:
        """Return calls in arrival order, by method and outcome if given."""
        with self._changed:
            return self._select(method, ok)

    def wait_for(
        self,
        method: str,
        count: int = 1,
        *,
        timeout: float = 5.0,
        ok: bool | None = None,
    ) -> list[Call]:
        """Block until `count` calls of `method` arrived and return them.

        Raises TimeoutError naming the method and what did arrive when the
        calls are still missing after `timeout` seconds.
        """
        with self._changed:
            arrived = self._changed.wait_for(
                lambda: len(self._select(method, ok)) >= count, timeout=timeout
            )
            calls = self._select(method, ok)
            if not arrived:
                seen = sorted({c.method for c in self._calls})
                raise TimeoutError(
                    f"expected {count} {method} call(s) within {timeout} s, "
                    f"got {len(calls)}; methods called: {seen}"
                )
            return calls

    def wait_until(
        self, predicate: Callable[[list[Call]], bool], *, timeout: float = 5.0
    ) -> list[Call]:
        """Block until `predicate(all calls)` is true, or raise TimeoutError."""
        with self._changed:
            if not self._changed.wait_for(
                lambda: predicate(list(self._calls)), timeout=timeout
            ):
                raise TimeoutError(f"condition on calls not met within {timeout} s")
            return list(self._calls)

    def clear(self) -> None:
        with self._changed:
            self._calls.clear()

    def _select(self, method: str | None, ok: bool | None) -> list[Call]:
        return [
            call
            for call in self._calls
            if (method is None or call.method == method)
            and (ok is None or call.ok == ok)
        ]
