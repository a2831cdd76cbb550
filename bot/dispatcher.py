"""The outbox dispatcher: routes new events and delivers them to Slack.

Each run routes unrouted events to deliveries, claims the deliveries that
are due, rolls storms up into summaries and posts the rest paced per
channel. Events written by any process (the CLI, training scripts, NeMo
Run jobs) are picked up by the next poll, one to two seconds later.

Delivery is at least once toward Slack and exactly once as seen in Slack.
A delivery is recorded as soon as Slack accepted it. One whose outcome is
unknown (a crash, a timeout, a 5xx) is looked up in Slack by its metadata
marker before it is posted again, and only once history can be expected
to show it: after the lease for a crash, `AMBIGUOUS_RETRY_SECONDS` for a
post that failed that way. Several dispatchers can
run against one PostgreSQL database; leases and `SKIP LOCKED` split the
work between them.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import random
import socket
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from slack_sdk import WebClient

from bot import in_flight, outbox, pacing, rollup, routing
from bot.delivery import AttemptFailed, Deliverer, Posted, SkipDelivery
from bot.outbox import Candidate, ClaimedDelivery
from bot.recipients import Recipients, UnknownRecipient
from bot.slack_calls import (
    AUTH,
    PERMANENT,
    RATE_LIMITED,
    UNKNOWN,
    SlackCalls,
    SlackFailure,
)

if TYPE_CHECKING:
    from bot.settings import Settings
    from tracker import Tracker

logger = logging.getLogger(__name__)

POLL_SECONDS = 1.5
# Longest wait for requests in flight before routing goes on anyway, so a
# bot that is never idle still works through its backlog.
REQUEST_WAIT_SECONDS = 2.0
BATCH_SIZE = 100
# Single posts per target per run: at one a second, 20 s of pacing.
SINGLES_PER_TARGET = 20
# Open deliveries read per run to find the claimable ones.
CANDIDATE_WINDOW = 2000
# Longer than a run's pacing plus the Slack client's timeout, so a lease
# does not run out under a dispatcher that is still working on it.
LEASE = dt.timedelta(minutes=2)
MAX_ATTEMPTS = 20
# A wait for one channel longer than this releases its deliveries instead
# of holding them (and the run) until then.
MAX_INLINE_WAIT_SECONDS = 5.0
AUTH_PAUSE = dt.timedelta(minutes=5)
SLACK_TIMEOUT_SECONDS = 20
AMBIGUOUS_RETRY_SECONDS = pacing.AMBIGUOUS_RETRY_SECONDS
# Failures of these calls may have posted the message. "dispatch" stands
# for an unexpected error in the dispatcher itself, e.g. while recording.
_MAY_HAVE_POSTED = frozenset({"chat.postMessage", "dispatch"})
# Methods whose 429 concerns one channel; any other 429 pauses all sending.
_PER_CHANNEL_METHODS = frozenset({"chat.postMessage", "chat.update"})


@dataclass
class DispatchStats:
    """Counts of one run's work, in deliveries (events for `routed`)."""

    routed: int = 0  # events
    delivered: int = 0
    found_earlier: int = 0  # delivered by an earlier attempt, found in Slack
    rolled_up: int = 0  # delivered by a summary message
    rollup_messages: int = 0
    retried: int = 0
    parked: int = 0
    skipped: int = 0
    released: int = 0

    def busy(self) -> bool:
        # Routing counts: with a backlog, the next run routes on at once.
        return bool(
            self.routed
            or self.delivered
            or self.rolled_up
            or self.retried
            or self.parked
        )


@dataclass
class _Item:
    """One post to make: a single delivery, or a roll-up of several."""

    target: str
    deliveries: list[ClaimedDelivery]
    is_rollup: bool = False

    @property
    def ids(self) -> list[int]:
        return [delivery.id for delivery in self.deliveries]


@dataclass
class _Pause:
    until: dt.datetime | None = None
    reason: str = ""


class Dispatcher:
    """Delivers outbox events to Slack; `run_once()` or a background thread.

    `clock` returns the current UTC time (default: the tracker's clock) and
    `sleep(seconds)` waits for pacing; tests pass fakes of both. The client
    should make no retries of its own (`retry_handlers=[]`), because a
    blind retry after a lost reply would post twice.
    """

    def __init__(
        self,
        tracker: Tracker,
        client: WebClient,
        *,
        clock: Callable[[], dt.datetime] | None = None,
        sleep: Callable[[float], Any] | None = None,
        worker_id: str | None = None,
        rng: random.Random | None = None,
        post_interval: float = pacing.POST_INTERVAL_SECONDS,
        poll_seconds: float = POLL_SECONDS,
        batch_size: int = BATCH_SIZE,
        rollup_threshold: int = rollup.ROLLUP_THRESHOLD,
        max_attempts: int = MAX_ATTEMPTS,
        lease: dt.timedelta = LEASE,
        ambiguous_retry: float = AMBIGUOUS_RETRY_SECONDS,
    ) -> None:
        self.tracker = tracker
        self.slack = SlackCalls(client)
        self.recipients = Recipients(tracker, self.slack)
        self.deliverer = Deliverer(tracker, self.slack, self.recipients)
        self.clock = clock or tracker.clock
        self._stopping = threading.Event()
        self.sleep = sleep or self._stopping.wait
        self.worker_id = worker_id or _default_worker_id()
        self.rng = rng or random.Random()
        self.pacer = pacing.Pacer(post_interval)
        self.poll_seconds = poll_seconds
        self.batch_size = batch_size
        self.rollup_threshold = rollup_threshold
        self.max_attempts = max_attempts
        self.lease = lease
        self.ambiguous_retry = ambiguous_retry
        self._pause = _Pause()
        self._thread: threading.Thread | None = None

    # -- one run -----------------------------------------------------------

    def run_once(self) -> DispatchStats:
        """Route new events, then claim and deliver what is due."""
        stats = DispatchStats()
        now = self.clock()
        # Waiting here too, not only between transactions, keeps a run's
        # first routing transaction out of a command already being answered.
        in_flight.REQUESTS.wait_until_idle(REQUEST_WAIT_SECONDS)
        stats.routed = routing.route_events(
            self.tracker, now=now, pause=self._make_way_for_requests
        )
        if self._paused(now):
            return stats

        self.deliverer.start_run()
        found = outbox.candidates(self.tracker.db, now=now, window=CANDIDATE_WINDOW)
        planned = rollup.plan(found, threshold=self.rollup_threshold)
        singles = self._limit_singles(planned.singles)
        chosen_ids = [c.id for group in planned.rollups for c in group]
        chosen_ids += [c.id for c in singles]
        claimed = outbox.claim(
            self.tracker.db,
            chosen_ids,
            worker=self.worker_id,
            now=now,
            lease=self.lease,
        )
        queue = self._queue(planned.rollups, singles, claimed)
        self._drain(queue, stats)
        return stats

    def _make_way_for_requests(self, seconds: float) -> None:
        """Pause between routing transactions, and longer while requests wait."""
        self._stopping.wait(seconds)
        in_flight.REQUESTS.wait_until_idle(REQUEST_WAIT_SECONDS)

    def _limit_singles(self, singles: Sequence[Candidate]) -> list[Candidate]:
        per_target: dict[str, int] = {}
        chosen: list[Candidate] = []
        for candidate in singles:
            if len(chosen) >= self.batch_size:
                break
            count = per_target.get(candidate.target, 0)
            if count < SINGLES_PER_TARGET:
                per_target[candidate.target] = count + 1
                chosen.append(candidate)
        return chosen

    def _queue(
        self,
        rollups: Sequence[Sequence[Candidate]],
        singles: Sequence[Candidate],
        claimed: Sequence[ClaimedDelivery],
    ) -> pacing.PacedQueue[_Item]:
        by_id = {delivery.id: delivery for delivery in claimed}
        queue: pacing.PacedQueue[_Item] = pacing.PacedQueue(self.pacer)
        for group in rollups:
            members = [by_id[c.id] for c in group if c.id in by_id]
            if len(members) > self.rollup_threshold:
                queue.extend(
                    members[0].target, [_Item(members[0].target, members, True)]
                )
            else:
                # Another dispatcher took part of the group meanwhile.
                for delivery in members:
                    queue.extend(delivery.target, [_Item(delivery.target, [delivery])])
        for candidate in singles:
            if candidate.id in by_id:
                delivery = by_id[candidate.id]
                queue.extend(delivery.target, [_Item(delivery.target, [delivery])])
        return queue

    def _drain(self, queue: pacing.PacedQueue[_Item], stats: DispatchStats) -> None:
        """Send the queued items, each target paced, until done or stopped."""
        while True:
            upcoming = queue.next_target()
            if upcoming is None:
                return
            now = self.clock()
            if self._stopping.is_set() or self._paused(now):
                stats.released += self._release(queue.drain())
                return
            target, ready_at = upcoming
            wait = ready_at - now.timestamp()
            if wait > MAX_INLINE_WAIT_SECONDS:
                later = dt.datetime.fromtimestamp(ready_at, dt.UTC)
                stats.released += self._release(queue.drain_target(target), later)
            elif wait > 0:
                self.sleep(wait)
            else:
                self._send(queue.pop(target), stats)

    def _release(
        self, items: Sequence[_Item], not_before: dt.datetime | None = None
    ) -> int:
        ids = [i for item in items for i in item.ids]
        outbox.release(
            self.tracker.db, ids, worker=self.worker_id, not_before=not_before
        )
        return len(ids)

    # -- one post ----------------------------------------------------------

    def _send(self, item: _Item, stats: DispatchStats) -> None:
        now = self.clock()
        still_claimed = set(
            outbox.begin_attempt(
                self.tracker.db,
                item.ids,
                worker=self.worker_id,
                now=now,
                lease=self.lease,
            )
        )
        if len(still_claimed) < len(item.ids):
            logger.warning(
                "lost the claim on deliveries %s to %s before sending",
                sorted(set(item.ids) - still_claimed),
                item.target,
            )
        item.deliveries = [d for d in item.deliveries if d.id in still_claimed]
        if not item.deliveries:
            return
        if item.is_rollup:
            item = self._drop_private(item, stats)
            if not item.deliveries:
                return
        try:
            posted = self._post(item)
        except AttemptFailed as failed:
            self._on_failure(item, failed.failure, failed.outcome_unknown, stats)
        except UnknownRecipient as exc:
            self._park(item, str(exc), stats)
        except SkipDelivery as exc:
            self._skip(item, str(exc), stats)
        except Exception as exc:
            # A bug or a database error: Slack may or may not have the post.
            logger.exception(
                "delivery %s to %s failed unexpectedly", item.ids, item.target
            )
            failure = SlackFailure(
                "dispatch", f"{type(exc).__name__}: {exc}", "unknown"
            )
            self._on_failure(item, failure, True, stats)
        else:
            self._delivered(item, posted, stats)

    def _post(self, item: _Item) -> Posted:
        if item.is_rollup:
            return self.deliverer.deliver_rollup(item.deliveries)
        return self.deliverer.deliver(item.deliveries[0])

    def _drop_private(self, item: _Item, stats: DispatchStats) -> _Item:
        """Skip roll-up members whose experiment became private since routing."""
        if item.deliveries[0].is_dm:
            return item
        visible = rollup.visible_experiments(
            self.tracker, [d.experiment_id for d in item.deliveries]
        )
        hidden = [d for d in item.deliveries if d.experiment_id not in visible]
        if hidden:
            reason = "the experiment is private; it is not announced in channels"
            self._skip(_Item(item.target, hidden), reason, stats)
        shown = [d for d in item.deliveries if d.experiment_id in visible]
        return _Item(item.target, shown, item.is_rollup)

    def _delivered(self, item: _Item, posted: Posted, stats: DispatchStats) -> None:
        now = self.clock()
        outbox.record_delivered(
            self.tracker.db,
            item.ids,
            now=now,
            message_ts=posted.ts,
            anchor=posted.anchor,
        )
        if not posted.found_earlier:
            self.pacer.posted(item.target, now.timestamp())
        if item.is_rollup:
            stats.rolled_up += len(item.ids)
            stats.rollup_messages += 1
            logger.info(
                "rolled up %d %s deliveries to %s into message %s (events %s)",
                len(item.ids),
                item.deliveries[0].kind,
                item.target,
                posted.ts,
                _events(item),
            )
            return
        delivery = item.deliveries[0]
        if posted.found_earlier:
            stats.found_earlier += 1
            logger.info(
                "event %d (%s) to %s was already in Slack as %s; recorded delivery "
                "%d on attempt %d without posting again",
                delivery.event_id,
                delivery.kind,
                item.target,
                posted.ts,
                delivery.id,
                delivery.attempts + 1,
            )
            return
        stats.delivered += 1
        logger.info(
            "delivered event %d (%s) to %s as %s: delivery %d, attempt %d",
            delivery.event_id,
            delivery.kind,
            item.target,
            posted.ts,
            delivery.id,
            delivery.attempts + 1,
        )

    # -- failures ----------------------------------------------------------

    def _on_failure(
        self,
        item: _Item,
        failure: SlackFailure,
        outcome_unknown: bool,
        stats: DispatchStats,
    ) -> None:
        now = self.clock()
        attempt = max(d.attempts for d in item.deliveries) + 1
        if failure.category == AUTH:
            self._pause_until(now + AUTH_PAUSE, f"Slack rejected the token: {failure}")
            self._park(item, f"{failure} (check SLACK_BOT_TOKEN)", stats)
            return
        if failure.category == PERMANENT:
            self._park(item, str(failure), stats)
            return
        if attempt >= self.max_attempts:
            self._park(item, f"gave up after {attempt} attempts: {failure}", stats)
            return

        if failure.category == RATE_LIMITED:
            delay = failure.retry_after or 1.0
        else:
            delay = pacing.backoff_seconds(attempt, rng=self.rng)
        resume_at = now + dt.timedelta(seconds=delay)
        if failure.category == RATE_LIMITED and failure.method in _PER_CHANNEL_METHODS:
            self.pacer.hold(item.target, resume_at.timestamp())
        else:
            # Slack is down or limits the whole app: stop sending until then.
            self._pause_until(resume_at, str(failure))
        if _may_have_posted(failure, outcome_unknown):
            # Only this delivery waits longer; the others resume after the
            # backoff.
            delay = max(delay, self.ambiguous_retry)
        retry_at = now + dt.timedelta(seconds=delay)
        outbox.record_retry(
            self.tracker.db,
            item.ids,
            worker=self.worker_id,
            retry_at=retry_at,
            error=str(failure),
            outcome_unknown=outcome_unknown,
        )
        stats.retried += len(item.ids)
        logger.warning(
            "event %s to %s failed on attempt %d (%s); retrying in %.1f s",
            _events(item),
            item.target,
            attempt,
            failure,
            delay,
        )

    def _park(self, item: _Item, error: str, stats: DispatchStats) -> None:
        outbox.record_parked(
            self.tracker.db, item.ids, worker=self.worker_id, error=error
        )
        stats.parked += len(item.ids)
        logger.error(
            # The error is last because it is a sentence of its own.
            "parked event %s to %s after attempt %d (listed by `expbot outbox`): %s",
            _events(item),
            item.target,
            max(d.attempts for d in item.deliveries) + 1,
            error,
        )

    def _skip(self, item: _Item, reason: str, stats: DispatchStats) -> None:
        outbox.record_skipped(
            self.tracker.db, item.ids, worker=self.worker_id, reason=reason
        )
        stats.skipped += len(item.ids)
        logger.info("skipped event %s to %s: %s", _events(item), item.target, reason)

    def _pause_until(self, until: dt.datetime, reason: str) -> None:
        if self._pause.until is None or until > self._pause.until:
            self._pause = _Pause(until, reason)

    def _paused(self, now: dt.datetime) -> bool:
        return self._pause.until is not None and now < self._pause.until

    # -- background thread -------------------------------------------------

    def start(self) -> None:
        """Run in a daemon thread that polls every `poll_seconds`."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._loop, name="expbot-dispatcher", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread; claims not yet attempted are given back."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        logger.info(
            "dispatcher %s started, polling every %.1f s",
            self.worker_id,
            self.poll_seconds,
        )
        while not self._stopping.is_set():
            try:
                stats = self.run_once()
            except Exception:
                logger.exception("dispatcher run failed; trying again shortly")
                stats = DispatchStats()
            if not stats.busy():
                self._stopping.wait(self.poll_seconds)
        logger.info("dispatcher %s stopped", self.worker_id)


def start(app: Any, settings: Settings, tracker: Tracker) -> Dispatcher:
    """Start a dispatcher for the bot; the `bot.services` hook calls this.

    It gets its own WebClient without retry handlers, with the token and
    API URL of the app's client.
    """
    token = settings.bot_token or app.client.token
    base_url = settings.api_url or app.client.base_url
    client = WebClient(
        token=token, base_url=base_url, timeout=SLACK_TIMEOUT_SECONDS, retry_handlers=[]
    )
    dispatcher = Dispatcher(tracker, client)
    dispatcher.start()
    return dispatcher


def _may_have_posted(failure: SlackFailure, outcome_unknown: bool) -> bool:
    """Return whether this attempt itself may have put the message in Slack.

    Slack posted nothing when it replied 429 or with an error, and a failed
    history read or card update posts nothing either. Those failures keep
    the short backoff even when an older attempt's outcome is unknown.
    """
    return (
        outcome_unknown
        and failure.category == UNKNOWN
        and failure.method in _MAY_HAVE_POSTED
    )


def _default_worker_id() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _events(item: _Item) -> str:
    ids = [delivery.event_id for delivery in item.deliveries]
    shown = ", ".join(str(i) for i in ids[:10])
    return shown + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")
