"""Deliver one outbox delivery to Slack: a card, a thread reply or a DM.

For a channel, the experiment's first message is its card, stored as the
thread anchor; later events update the card with `chat.update` and reply
in its thread. A `dm:<handle>` target gets the card and who shared it.

When an earlier attempt's outcome is unknown, the delivery is first
looked up in Slack by its metadata marker and, if found, recorded without
posting again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot import event_messages, outbox, rollup
from bot.outbox import ClaimedDelivery
from bot.recipients import Recipients
from bot.slack_calls import SlackCalls, SlackFailure
from tracker.errors import ExperimentNotFound
from tracker.records import ExperimentRecord

if TYPE_CHECKING:
    from tracker import Tracker

logger = logging.getLogger(__name__)

# chat.update errors that mean the card is gone or can no longer be edited,
# and chat.postMessage's error for a reply whose parent was deleted.
_CARD_GONE = frozenset({"message_not_found", "cant_update_message", "thread_not_found"})


@dataclass(frozen=True)
class Posted:
    """A delivery's message in Slack: its channel and ts."""

    channel: str
    ts: str
    # (experiment id, channel id) when the message is a new card.
    anchor: tuple[str, str] | None = None
    # True when an earlier attempt's post was found instead of posting.
    found_earlier: bool = False


class SkipDelivery(Exception):
    """A delivery that must not be sent, e.g. the experiment became private."""


class AttemptFailed(Exception):
    """A failed attempt, with whether Slack may have the post (`outcome_unknown`).

    Slack may have it when the call itself may have gone through (a
    timeout, a 5xx), and when the attempt failed before it could check
    Slack for an earlier attempt whose outcome was unknown.
    """

    def __init__(self, failure: SlackFailure, *, outcome_unknown: bool) -> None:
        super().__init__(str(failure))
        self.failure = failure
        self.outcome_unknown = outcome_unknown


@dataclass(frozen=True)
class _Destination:
    channel: str
    anchor: str | None  # the card's ts, for a channel that has one


class Deliverer:
    """Sends single deliveries to channels and direct messages."""

    def __init__(self, tracker: Tracker, slack: SlackCalls, recipients: Recipients):
        self.tracker = tracker
        self.slack = slack
        self.recipients = recipients
        self._directions: dict[str, event_messages.DirectionOf] = {}

    def start_run(self) -> None:
        """Forget what the last run cached: history reads, users, directions."""
        self.slack.forget_history()
        self.recipients.forget()
        self._directions.clear()

    def deliver(self, delivery: ClaimedDelivery) -> Posted:
        """Send the delivery, or find that an earlier attempt sent it.

        Raises AttemptFailed, UnknownRecipient (park it) or SkipDelivery.
        """
        checked = not delivery.outcome_unknown
        try:
            record = self._experiment(delivery)
            destination = self._destination(delivery, record)
            if not checked:
                earlier = self._find_earlier(delivery, record, destination)
                if earlier is not None:
                    return earlier
                checked = True
            if delivery.is_dm:
                return self._post_dm(delivery, record, destination.channel)
            if destination.anchor is None:
                return self._post_card(delivery, record, destination.channel)
            return self._reply(
                delivery, record, destination.channel, destination.anchor
            )
        except SlackFailure as failure:
            unknown = failure.outcome_unknown or not checked
            raise AttemptFailed(failure, outcome_unknown=unknown) from failure

    def deliver_rollup(self, members: Sequence[ClaimedDelivery]) -> Posted:
        """Post one summary for deliveries of one kind to one target.

        Members are `pending`: no earlier attempt may be in Slack, so there
        is nothing to check first. Raises AttemptFailed or UnknownRecipient.
        """
        first = members[0]
        try:
            if first.is_dm:
                handle = first.target.removeprefix(outbox.DM_PREFIX)
                channel = self.slack.open_dm(self.recipients.slack_id(handle))
            else:
                channel = first.target
            text, blocks = rollup.rollup_message(
                self.tracker, first.kind, members, direct=first.is_dm
            )
            ts = self.slack.post(
                channel,
                text=text,
                blocks=blocks,
                delivery_ids=[member.id for member in members],
            )
        except SlackFailure as failure:
            raise AttemptFailed(
                failure, outcome_unknown=failure.outcome_unknown
            ) from failure
        return Posted(channel, ts)

    def _experiment(self, delivery: ClaimedDelivery) -> ExperimentRecord:
        try:
            record = self.tracker.get(delivery.experiment_id)
        except ExperimentNotFound as exc:
            raise SkipDelivery(f"experiment {delivery.experiment_id} is gone") from exc
        if record.visibility == "private" and not delivery.is_dm:
            raise SkipDelivery(
                f"experiment {record.short_id} is private; it is not announced "
                "in channels"
            )
        return record

    def _destination(
        self, delivery: ClaimedDelivery, record: ExperimentRecord
    ) -> _Destination:
        if delivery.is_dm:
            handle = delivery.target.removeprefix(outbox.DM_PREFIX)
            user_id = self.recipients.slack_id(handle)
            return _Destination(self.slack.open_dm(user_id), None)
        channel = delivery.target
        return _Destination(
            channel, outbox.anchor_for(self.tracker.db, record.id, channel)
        )

    def _find_earlier(
        self,
        delivery: ClaimedDelivery,
        record: ExperimentRecord,
        destination: _Destination,
    ) -> Posted | None:
        """Return the earlier attempt's message if Slack has it.

        Without an anchor, an earlier channel attempt could only have
        posted the card, so the top-level history is read; with one, the
        card's thread.
        """
        ts = self.slack.find_posted(
            destination.channel,
            delivery.id,
            since=delivery.event_created_at,
            thread_ts=destination.anchor,
        )
        if ts is None:
            return None
        card = None
        if not delivery.is_dm and destination.anchor is None:
            card = (record.id, destination.channel)
        return Posted(destination.channel, ts, anchor=card, found_earlier=True)

    def _post_card(
        self, delivery: ClaimedDelivery, record: ExperimentRecord, channel: str
    ) -> Posted:
        text, blocks = event_messages.card_message(
            record,
            delivery.kind,
            delivery.actor,
            delivery.payload,
            direction_of=self._direction_of(record),
        )
        ts = self.slack.post(
            channel, text=text, blocks=blocks, delivery_ids=[delivery.id]
        )
        return Posted(channel, ts, anchor=(record.id, channel))

    def _reply(
        self,
        delivery: ClaimedDelivery,
        record: ExperimentRecord,
        channel: str,
        anchor: str,
    ) -> Posted:
        direction_of = self._direction_of(record)
        try:
            # The card is updated first: chat.update is idempotent, so when
            # it fails nothing is posted yet and the retry repeats it safely.
            self.slack.update(
                channel,
                anchor,
                text=event_messages.card_text(record),
                blocks=event_messages.card_blocks(record, direction_of=direction_of),
            )
            text, blocks = event_messages.reply_message(
                record,
                delivery.kind,
                delivery.actor,
                delivery.payload,
                direction_of=direction_of,
            )
            ts = self.slack.post(
                channel,
                text=text,
                blocks=blocks,
                delivery_ids=[delivery.id],
                thread_ts=anchor,
            )
        except SlackFailure as failure:
            if failure.error not in _CARD_GONE:
                raise
            logger.warning(
                "card %s of experiment %s in %s is gone (%s); posting a new card",
                anchor,
                record.id,
                channel,
                failure.error,
            )
            outbox.drop_anchor(self.tracker.db, record.id, channel)
            return self._post_card(delivery, record, channel)
        return Posted(channel, ts)

    # -- direct messages ---------------------------------------------------

    def _post_dm(
        self, delivery: ClaimedDelivery, record: ExperimentRecord, channel: str
    ) -> Posted:
        text, blocks = event_messages.shared_dm_message(
            record, delivery.actor, direction_of=self._direction_of(record)
        )
        ts = self.slack.post(
            channel, text=text, blocks=blocks, delivery_ids=[delivery.id]
        )
        return Posted(channel, ts)

    def _direction_of(self, record: ExperimentRecord) -> event_messages.DirectionOf:
        if record.team not in self._directions:
            self._directions[record.team] = self.tracker.directions(record.team)
        return self._directions[record.team]
