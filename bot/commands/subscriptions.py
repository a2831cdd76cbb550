"""`/exp subscribe`, `subscriptions` and `unsubscribe`: what a channel hears.

A subscription is a search query plus the event kinds a channel wants to
hear about. The notification dispatcher posts an experiment's card to each
channel whose subscription matches it, and threads later events under the
card. A channel with no subscription hears nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select

from bot.commands.arguments import take_options, words
from bot.commands.base import CommandContext, Reply, UsageError, command
from bot.commands.search import search_query
from bot.slack_text import code, escape
from tracker import models
from tracker.query import Query, parse

if TYPE_CHECKING:
    from tracker import Tracker

MAX_PER_CHANNEL = 20
ALL_KINDS = models.EVENT_KINDS

SUBSCRIBE_DETAILS = """\
Makes this channel hear about the experiments that match a query (the \
`/exp search` language; no query means every team-visible experiment). \
The first event of an experiment posts its card here; later events reply \
in the card's thread and update the card. `events:` picks the kinds to hear \
(default: all): created, completed, failed, cancelled, shared, noted \
(a new note) and threshold (a metric reached its goal, see `/exp metric`). \
Events are posted as they happen, so the query cannot use `sort:`. \
Private experiments are never posted to channels. When many events of one \
kind arrive at once, such as a sweep finishing, they come as one summary.
Examples:
• `/exp subscribe project:mt`
• `/exp subscribe tag:nlp events:completed,failed`
• `/exp subscribe accuracy>0.9 events:completed`
• `/exp subscribe` (everything)"""

SUBSCRIPTIONS_DETAILS = """\
Lists this channel's subscriptions, numbered for `/exp unsubscribe N`.
Example: `/exp subscriptions`"""

UNSUBSCRIBE_DETAILS = """\
Removes subscription number N of this channel, as `/exp subscriptions` \
numbers them. Notifications already on their way are still delivered.
Example: `/exp unsubscribe 2`"""


@dataclass(frozen=True)
class SubscriptionRecord:
    id: int
    channel_id: str
    query: str
    event_kinds: tuple[str, ...]
    created_by: str


@command(
    "subscribe",
    usage="subscribe [QUERY] [events:created,completed,...]",
    summary="post matching experiments' events to this channel",
    details=SUBSCRIBE_DETAILS,
    changes_data=True,
)
def subscribe(ctx: CommandContext, args: str) -> Reply:
    options, rest = take_options(words(args), ["events"])
    query = search_query(" ".join(rest))
    # parse() raises InvalidQuery, naming the position and what was expected.
    parsed = parse(query)
    if parsed.sort:
        raise UsageError(_sort_message(parsed, options.get("events")))
    kinds = parse_event_kinds(options.get("events"))

    existing = list_subscriptions(ctx.tracker, ctx.channel_id)
    for number, subscription in enumerate(existing, start=1):
        if subscription.query == query and subscription.event_kinds == kinds:
            return Reply(
                text=f"This channel already has that subscription, number {number}.",
                shareable=False,
            )
    if len(existing) >= MAX_PER_CHANNEL:
        raise UsageError(
            f"This channel has {len(existing)} subscriptions, the most it may "
            "have. Remove one with `/exp unsubscribe N`."
        )

    add_subscription(ctx.tracker, ctx.channel_id, query, kinds, created_by=ctx.handle)
    return Reply(
        text=f":bell: This channel now hears about {_describe(query, kinds)}. "
        "`/exp subscriptions` lists what it hears.",
        shareable=False,
    )


@command(
    "subscriptions",
    usage="subscriptions",
    summary="list this channel's subscriptions",
    details=SUBSCRIPTIONS_DETAILS,
)
def subscriptions(ctx: CommandContext, args: str) -> Reply:
    if args.strip():
        raise UsageError("`subscriptions` takes no arguments.")
    found = list_subscriptions(ctx.tracker, ctx.channel_id)
    if not found:
        return Reply(
            text="This channel has no subscriptions, so it hears about no "
            "experiments. Add one with `/exp subscribe QUERY`."
        )
    lines = [
        f"{number}. {_describe(s.query, s.event_kinds)}, by {escape(s.created_by)}"
        for number, s in enumerate(found, start=1)
    ]
    return Reply(text="This channel's subscriptions:\n" + "\n".join(lines))


@command(
    "unsubscribe",
    usage="unsubscribe N",
    summary="remove one of this channel's subscriptions",
    details=UNSUBSCRIBE_DETAILS,
    changes_data=True,
)
def unsubscribe(ctx: CommandContext, args: str) -> Reply:
    number = _number(args)
    found = list_subscriptions(ctx.tracker, ctx.channel_id)
    if not 1 <= number <= len(found):
        raise UsageError(
            f"This channel has no subscription {number}; it has {len(found)}. "
            "`/exp subscriptions` lists them."
        )
    removed = found[number - 1]
    remove_subscription(ctx.tracker, removed.id)
    return Reply(
        text=f":no_bell: Removed subscription {number}: "
        f"{_describe(removed.query, removed.event_kinds)}.",
        shareable=False,
    )


# -- storage -----------------------------------------------------------------


def parse_event_kinds(text: str | None) -> tuple[str, ...]:
    """Parse `created,completed` (or `all`) into kinds in the standard order."""
    if text is None or text.strip().lower() == "all":
        return ALL_KINDS
    requested = {part.strip().lower() for part in text.split(",") if part.strip()}
    unknown = sorted(requested - set(ALL_KINDS))
    if unknown:
        raise UsageError(
            f"Unknown event kind {code(unknown[0])}: use {', '.join(ALL_KINDS)}, "
            "or `all`, e.g. `events:completed,failed`."
        )
    if not requested:
        raise UsageError("Name at least one event kind, e.g. `events:completed`.")
    return tuple(kind for kind in ALL_KINDS if kind in requested)


def add_subscription(
    tracker: Tracker,
    channel_id: str,
    query: str,
    kinds: tuple[str, ...],
    *,
    created_by: str,
) -> SubscriptionRecord:
    row = models.Subscription(
        channel_id=channel_id,
        query=query,
        event_kinds=",".join(kinds),
        created_by=created_by,
        created_at=tracker.clock(),
    )
    with tracker.db.write() as session:
        session.add(row)
        session.flush()
        return _record(row)


def list_subscriptions(tracker: Tracker, channel_id: str) -> list[SubscriptionRecord]:
    """Return a channel's subscriptions, oldest first (the numbering order)."""
    with tracker.db.read() as session:
        rows = session.scalars(
            select(models.Subscription)
            .where(models.Subscription.channel_id == channel_id)
            .order_by(models.Subscription.id)
        )
        return [_record(row) for row in rows]


def remove_subscription(tracker: Tracker, subscription_id: int) -> None:
    with tracker.db.write() as session:
        row = session.get(models.Subscription, subscription_id)
        if row is not None:
            session.delete(row)


def _record(row: models.Subscription) -> SubscriptionRecord:
    kinds = tuple(kind for kind in row.event_kinds.split(",") if kind)
    return SubscriptionRecord(row.id, row.channel_id, row.query, kinds, row.created_by)


def _describe(query: str, kinds: tuple[str, ...]) -> str:
    what = f"experiments matching {code(query)}" if query else "all experiments"
    heard = "all events" if set(kinds) == set(ALL_KINDS) else ", ".join(kinds)
    return f"{what} ({heard})"


def _sort_message(parsed: Query, events: str | None) -> str:
    """Build the error for `sort:` terms, with the command that works without them."""
    terms = ", ".join(code(key.to_text()) for key in parsed.sort)
    words = ["/exp subscribe"]
    if parsed.where is not None:
        words.append(Query(where=parsed.where).to_text())
    if events is not None:
        words.append(f"events:{events}")
    return (
        "A subscription posts each event as it happens, in no order, so it "
        f"cannot sort. Remove {terms}, e.g. {code(' '.join(words))}."
    )


def _number(args: str) -> int:
    text = args.strip()
    if not text.isdigit():
        raise UsageError(
            "Give the number of the subscription to remove, e.g. "
            "`/exp unsubscribe 2`; `/exp subscriptions` lists them."
        )
    return int(text)
