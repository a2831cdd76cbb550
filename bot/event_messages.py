"""The Slack messages that announce outbox events.

An experiment's first message in a channel is its card; later events are
one-line replies in the card's thread. A collaborator gets the card in a
direct message with who shared it. Each message is (fallback text, blocks);
Slack shows the text in notifications and to screen readers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from slack_sdk.models.blocks import Block

from bot.views.blocks import (
    check_blocks,
    context,
    escape,
    escape_to_fit,
    format_number,
    one_line,
    section,
)
from bot.views.cards import experiment_card
from tracker.records import ExperimentRecord

DirectionOf = Callable[[str], str]
Message = tuple[str, list[Block]]

REPLY_METRICS = 6
REASON_CHARS = 500
NOTE_CHARS = 1500
NAME_CHARS = 80


def event_line(
    kind: str, actor: str, payload: Mapping[str, Any], direction_of: DirectionOf
) -> str:
    """Return one escaped mrkdwn line that describes the event."""
    who = escape_to_fit(actor, 100) if actor else "someone"
    if kind == "created":
        return f":rocket: *Started* by {who}"
    if kind == "completed":
        return f":white_check_mark: *Completed* by {who}{_metrics(payload)}"
    if kind in ("failed", "cancelled"):
        label = ":x: *Failed*" if kind == "failed" else ":no_entry_sign: *Cancelled*"
        return f"{label} by {who}{_reason(payload)}"
    if kind == "shared":
        added = ", ".join(escape_to_fit(str(h), 100) for h in payload.get("added", []))
        return f":busts_in_silhouette: {who} shared it with {added or 'nobody new'}"
    if kind == "noted":
        text = escape_to_fit(str(payload.get("text", "")).strip(), NOTE_CHARS)
        return f":memo: *Note* by {who}\n>{text.replace(chr(10), chr(10) + '>')}"
    if kind == "threshold":
        return _threshold(payload, direction_of)
    return f"*{escape(kind)}* by {who}"


def card_message(
    record: ExperimentRecord,
    kind: str,
    actor: str,
    payload: Mapping[str, Any],
    *,
    direction_of: DirectionOf,
) -> Message:
    """Build an experiment's first message in a channel: its card.

    When the first event the channel hears is not `created` (say the
    channel subscribed to completions only), a line under the card's title
    names that event.
    """
    blocks = card_blocks(record, direction_of=direction_of)
    if kind != "created":
        blocks.insert(1, context(event_line(kind, actor, payload, direction_of)))
    text = f"{_title(record)}: {_plain_event(kind, actor)}"
    return text, check_blocks(blocks)


def card_blocks(record: ExperimentRecord, *, direction_of: DirectionOf) -> list[Block]:
    # Everyone in a channel gets the buttons, so the action handlers check
    # who may share or add a note when a button is pressed.
    return experiment_card(record, can_change=True, direction_of=direction_of)


def card_text(record: ExperimentRecord) -> str:
    return f"{_title(record)}: {record.status}"


def reply_message(
    record: ExperimentRecord,
    kind: str,
    actor: str,
    payload: Mapping[str, Any],
    *,
    direction_of: DirectionOf,
) -> Message:
    """Build a reply in the card's thread for a later event."""
    line = event_line(kind, actor, payload, direction_of)
    text = f"{_title(record)}: {_plain_event(kind, actor)}"
    return text, check_blocks([section(line)])


def shared_dm_message(
    record: ExperimentRecord, actor: str, *, direction_of: DirectionOf
) -> Message:
    """Build the direct message to a newly added collaborator."""
    who = escape_to_fit(actor, 100) if actor else "Someone"
    name = escape_to_fit(one_line(record.name), NAME_CHARS)
    intro = section(f":busts_in_silhouette: *{who}* shared *{name}* with you.")
    blocks = [intro, *card_blocks(record, direction_of=direction_of)]
    text = f"{actor or 'Someone'} shared experiment {one_line(record.name)} with you"
    return text, check_blocks(blocks)


def _title(record: ExperimentRecord) -> str:
    return f"Experiment {one_line(record.name)[:NAME_CHARS]} ({record.short_id})"


def _plain_event(kind: str, actor: str) -> str:
    verbs = {
        "created": "started",
        "completed": "completed",
        "failed": "failed",
        "cancelled": "cancelled",
        "shared": "shared",
        "noted": "new note",
        "threshold": "reached its goal",
    }
    verb = verbs.get(kind, kind)
    return f"{verb} by {actor}" if actor and kind != "threshold" else verb


def _metrics(payload: Mapping[str, Any]) -> str:
    values = [
        (str(key), value)
        for key, value in sorted(payload.items())
        if isinstance(value, (int, float)) and not isinstance(value, bool)
    ]
    if not values:
        return ""
    shown = [
        f"`{escape_to_fit(key, 60)}` {format_number(float(value))}"
        for key, value in values[:REPLY_METRICS]
    ]
    rest = len(values) - len(shown)
    more = f" +{rest} more" if rest > 0 else ""
    return "\n" + "  ·  ".join(shown) + more


def _reason(payload: Mapping[str, Any]) -> str:
    reason = str(payload.get("reason") or "").strip()
    if not reason:
        return ""
    text = escape_to_fit(reason, REASON_CHARS).replace("\n", "\n>")
    return f"\n>{text}"


def _threshold(payload: Mapping[str, Any], direction_of: DirectionOf) -> str:
    metric = str(payload.get("metric", "metric"))
    direction = str(payload.get("direction") or direction_of(metric))
    comparison = "≤" if direction == "min" else "≥"
    value = _number(payload.get("value"))
    goal = _number(payload.get("goal"))
    return (
        f":dart: `{escape_to_fit(metric, 60)}` reached *{value}* "
        f"(goal {comparison} {goal})"
    )


def _number(value: Any) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return format_number(float(value))
    return "–"
