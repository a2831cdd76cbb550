"""Pacing of posts per channel, and the backoff between retries.

Slack accepts about one `chat.postMessage` per second per channel and
rejects faster posts with HTTP 429. The pacer spaces this process's posts
to each target and stores the `Retry-After` waits that Slack requested.
Several dispatchers do not share a pacer; a 429 from their combined rate
is honoured like any other.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterable
from typing import Generic, TypeVar

POST_INTERVAL_SECONDS = 1.0
BACKOFF_BASE_SECONDS = 2.0
BACKOFF_CAP_SECONDS = 300.0
# After a post whose outcome is unknown (a timeout, a connection error, a
# 5xx), Slack may still be writing the message, or may have written it
# without showing it in history yet. A history check made sooner could
# miss it and post a second copy, so such a post is looked up and, if not
# found, posted again no sooner than this.
AMBIGUOUS_RETRY_SECONDS = 60.0

Item = TypeVar("Item")


def backoff_seconds(
    attempt: int,
    *,
    rng: random.Random,
    base: float = BACKOFF_BASE_SECONDS,
    cap: float = BACKOFF_CAP_SECONDS,
) -> float:
    """Return the wait before retry number `attempt` (1 for the first retry).

    The delay doubles per attempt up to `cap`, and a random half of it is
    jitter, so dispatchers that failed together do not retry together.
    """
    exponent = min(max(attempt - 1, 0), 32)
    delay = min(cap, base * 2.0**exponent)
    return delay / 2 + rng.uniform(0, delay / 2)


class Pacer:
    """When each target may next receive a post, in seconds since the epoch."""

    def __init__(self, interval: float = POST_INTERVAL_SECONDS) -> None:
        self.interval = interval
        self._ready_at: dict[str, float] = {}

    def ready_at(self, target: str) -> float:
        return self._ready_at.get(target, 0.0)

    def posted(self, target: str, at: float) -> None:
        self._ready_at[target] = max(self.ready_at(target), at + self.interval)

    def hold(self, target: str, until: float) -> None:
        """Post nothing to `target` before `until`, e.g. after a 429."""
        self._ready_at[target] = max(self.ready_at(target), until)


class PacedQueue(Generic[Item]):
    """Items in per-target FIFO queues, taken in the order targets are ready.

    Targets take turns, so a burst to one channel waits out its pacing
    while other channels' posts go ahead.
    """

    def __init__(self, pacer: Pacer) -> None:
        self._pacer = pacer
        self._queues: dict[str, deque[Item]] = {}

    def extend(self, target: str, items: Iterable[Item]) -> None:
        self._queues.setdefault(target, deque()).extend(items)

    def __len__(self) -> int:
        return sum(len(queue) for queue in self._queues.values())

    def next_target(self) -> tuple[str, float] | None:
        """Return the target whose head item is due first, and when."""
        best: tuple[str, float] | None = None
        for target, queue in self._queues.items():
            if not queue:
                continue
            ready = self._pacer.ready_at(target)
            if best is None or ready < best[1]:
                best = (target, ready)
        return best

    def pop(self, target: str) -> Item:
        queue = self._queues[target]
        item = queue.popleft()
        if not queue:
            del self._queues[target]
        return item

    def drain_target(self, target: str) -> list[Item]:
        """Remove and return the items queued for one target."""
        return list(self._queues.pop(target, ()))

    def drain(self) -> list[Item]:
        """Remove and return every queued item."""
        items = [item for queue in self._queues.values() for item in queue]
        self._queues.clear()
        return items
