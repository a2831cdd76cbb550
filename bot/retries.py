"""Acting once per Slack request, however often Slack delivers it.

Slack sends a request again, with `X-Slack-Retry-Num`, when the first
delivery was not acknowledged within 3 seconds, and Socket Mode redelivers
an envelope that was not acknowledged. A retry may arrive while the first
delivery is still being handled. So each request's id is claimed with an
insert-or-ignore into `processed_requests` before any listener runs. The
one delivery that inserts the row acts, and every other one is
acknowledged and dropped. The claim is one single-row insert, which takes
milliseconds of the 3 s.

NOTE: a delivery that claimed its id and then crashed before acting is
not redone by a retry; at most once was chosen over at least once because
a repeated share or note is visible to people, a lost one only to its user.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from slack_bolt import BoltRequest, BoltResponse
from sqlalchemy import delete, insert
from sqlalchemy.dialects import postgresql, sqlite

from bot import in_flight
from tracker import models

if TYPE_CHECKING:
    from tracker import Tracker

logger = logging.getLogger(__name__)

# Slack retries within minutes; a day of ids is far more than enough.
RETENTION = dt.timedelta(hours=24)
PRUNE_INTERVAL_SECONDS = 600.0
MAX_KEY_CHARS = 200


def request_key(body: dict[str, Any]) -> str | None:
    """Return the id that Slack repeats on every delivery of one request.

    None for requests that must always be answered, such as options loads
    and modal submissions (a modal may be submitted again after its
    errors are shown, with the same view id and hash).
    """
    if "command" in body and body.get("trigger_id"):
        return f"command:{body['trigger_id']}"
    kind = body.get("type")
    if kind == "event_callback" and body.get("event_id"):
        return f"event:{body['event_id']}"
    if kind == "block_actions":
        return _action_key(body)
    if kind in ("shortcut", "message_action") and body.get("trigger_id"):
        return f"{kind}:{body['trigger_id']}"
    return None


def _action_key(body: dict[str, Any]) -> str | None:
    actions = body.get("actions") or []
    if not actions or not actions[0].get("action_ts"):
        return None
    action = actions[0]
    user = (body.get("user") or {}).get("id", "")
    return f"action:{user}:{action.get('action_id', '')}:{action['action_ts']}"


class RequestLog:
    """The `processed_requests` table: which request ids were acted on."""

    def __init__(
        self, tracker: Tracker, *, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.tracker = tracker
        self._monotonic = monotonic
        self._next_prune = 0.0

    def claim(self, key: str) -> bool:
        """Record `key`; return False if it was already recorded."""
        now = self.tracker.clock()
        statement = (
            _insert_or_ignore(self.tracker.db.dialect)
            .values(key=key[:MAX_KEY_CHARS], created_at=now)
            .returning(models.ProcessedRequest.key)
        )
        # RETURNING yields the row only when it was inserted; rowcount is
        # not reliable for this statement on every driver (psycopg gives -1).
        with self.tracker.db.write() as session:
            inserted = session.execute(statement).first() is not None
        if self._monotonic() >= self._next_prune:
            self._next_prune = self._monotonic() + PRUNE_INTERVAL_SECONDS
            self.prune(now - RETENTION)
        return inserted

    def release(self, key: str) -> None:
        """Forget `key`, so that the next request with it acts."""
        with self.tracker.db.write() as session:
            session.execute(
                delete(models.ProcessedRequest).where(
                    models.ProcessedRequest.key == key[:MAX_KEY_CHARS]
                )
            )

    def prune(self, before: dt.datetime) -> int:
        """Delete ids recorded before `before`; return how many."""
        with self.tracker.db.write() as session:
            result = session.execute(
                delete(models.ProcessedRequest).where(
                    models.ProcessedRequest.created_at < before
                )
            )
            deleted = int(result.rowcount or 0)  # type: ignore[attr-defined]
        if deleted:
            logger.info("pruned %d processed request ids", deleted)
        return deleted


def _insert_or_ignore(dialect: str) -> Any:
    table = models.ProcessedRequest
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=["key"])
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=["key"])
    # NOTE: other backends are untested; a duplicate then raises StorageError.
    return insert(table)


def retry_number(request: BoltRequest) -> int:
    values = request.headers.get("x-slack-retry-num") or ["0"]
    try:
        return int(values[0])
    except (TypeError, ValueError):
        return 0


def make_middleware(log: RequestLog) -> Callable[..., BoltResponse | None]:
    """Build a Bolt middleware that acknowledges repeated requests unseen."""

    def drop_repeated_requests(
        request: BoltRequest, body: dict[str, Any], next: Callable[[], BoltResponse]
    ) -> BoltResponse | None:
        key = request_key(body)
        attempt = retry_number(request)
        if attempt:
            reason = (request.headers.get("x-slack-retry-reason") or ["unknown"])[0]
            logger.warning("Slack retry %d of %s (reason: %s)", attempt, key, reason)
        if key is not None and not _claim_in_flight(log, key):
            logger.info("dropped repeated request %s", key)
            return BoltResponse(status=200, body="")
        return next()

    return drop_repeated_requests


def _claim_in_flight(log: RequestLog, key: str) -> bool:
    """Claim `key`, counted as a request in flight.

    The claim is a write that runs before the acknowledgement. On SQLite it
    waits for the write lock behind a routing transaction, and the count
    makes the dispatcher hold its next transaction until the claim is done.
    """
    in_flight.REQUESTS.begin()
    try:
        return log.claim(key)
    finally:
        in_flight.REQUESTS.end()
