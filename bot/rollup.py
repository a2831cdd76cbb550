"""Storms: many events of one kind for one target, rolled up into one message.

A sweep of 200 runs that finish together would otherwise be 200 cards in
a channel, three minutes of posts at one a second. When more than
`ROLLUP_THRESHOLD` deliveries of one kind wait for one target at the same
time, they go out as one summary with counts and the top entries, and
that message delivers all of them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from slack_sdk.models.blocks import Block
from sqlalchemy import select

from bot import outbox
from bot.outbox import Candidate, ClaimedDelivery
from bot.views.blocks import (
    check_blocks,
    context,
    escape_to_fit,
    format_number,
    header,
    one_line,
    sections,
)
from tracker import models

if TYPE_CHECKING:
    from tracker import Tracker

# More than this many waiting deliveries of one kind for one target are
# rolled up. Up to this many are posted one by one, about a second apart.
ROLLUP_THRESHOLD = 10
# Deliveries per summary message; more become several summaries. It keeps
# the ids in the message metadata to a few kilobytes.
MAX_ROLLUP_SIZE = 200
TOP_ENTRIES = 10
NAME_CHARS = 60
DETAIL_CHARS = 100

_TITLES = {
    "created": "experiments started",
    "completed": "experiments completed",
    "failed": "experiments failed",
    "cancelled": "experiments cancelled",
    "shared": "experiments shared",
    "noted": "notes added",
    "threshold": "metric goals reached",
}
# Kinds that a status search lists, for the pointer under the summary.
_STATUS_OF_KIND = {
    "completed": "completed",
    "failed": "failed",
    "cancelled": "cancelled",
}

DirectionOf = Callable[[str], str]


@dataclass(frozen=True)
class Plan:
    """The work of one dispatcher run: summaries, then single deliveries."""

    rollups: list[list[Candidate]]
    singles: list[Candidate]


def plan(
    found: Sequence[Candidate],
    *,
    threshold: int = ROLLUP_THRESHOLD,
    max_size: int = MAX_ROLLUP_SIZE,
) -> Plan:
    """Split claimable deliveries into roll-up groups and single deliveries.

    Only `pending` deliveries are rolled up. One whose earlier attempt has
    an unknown outcome may already be in Slack on its own, so it goes
    through the single path, which checks for it first.
    """
    groups: dict[tuple[str, str], list[Candidate]] = {}
    for candidate in found:
        if candidate.state == outbox.PENDING:
            groups.setdefault((candidate.target, candidate.kind), []).append(candidate)

    rolled: set[int] = set()
    rollups: list[list[Candidate]] = []
    for members in groups.values():
        if len(members) <= threshold:
            continue
        for start in range(0, len(members), max_size):
            rollups.append(members[start : start + max_size])
        rolled.update(candidate.id for candidate in members)

    singles = [candidate for candidate in found if candidate.id not in rolled]
    return Plan(rollups, singles)


@dataclass(frozen=True)
class _Entry:
    experiment_id: str
    name: str
    researcher: str
    project: str
    payload: Mapping[str, Any]


def visible_experiments(tracker: Tracker, experiment_ids: Iterable[str]) -> set[str]:
    """Return which of the experiments are team-visible."""
    ids = list(set(experiment_ids))
    with tracker.db.read() as session:
        rows = session.scalars(
            select(models.Experiment.id).where(
                models.Experiment.id.in_(ids), models.Experiment.visibility == "team"
            )
        )
        return set(rows)


def rollup_message(
    tracker: Tracker,
    kind: str,
    deliveries: Sequence[ClaimedDelivery],
    *,
    direct: bool,
) -> tuple[str, list[Block]]:
    """Build the summary for deliveries of one kind to one target.

    `direct` is True for a collaborator's direct messages.
    """
    entries = _entries(tracker, deliveries)
    title = f"{len(deliveries)} {_TITLES.get(kind, kind + ' events')}"
    if direct and kind == "shared":
        title += " with you"

    ranked = _ranked(tracker, kind, entries)
    lines = [_entry_line(kind, entry, metric) for entry, metric in ranked[:TOP_ENTRIES]]
    blocks: list[Block] = [header(title), context(_counts_line(entries))]
    blocks.extend(sections(lines))
    footer = _footer(kind, len(entries) - min(len(entries), TOP_ENTRIES))
    if footer:
        blocks.append(context(footer))
    return f"{title}, rolled up into one message", check_blocks(blocks)


def _entries(tracker: Tracker, deliveries: Sequence[ClaimedDelivery]) -> list[_Entry]:
    ids = list({d.experiment_id for d in deliveries})
    with tracker.db.read() as session:
        rows = session.execute(
            select(
                models.Experiment.id,
                models.Experiment.name,
                models.Experiment.researcher,
                models.Experiment.project,
            ).where(models.Experiment.id.in_(ids))
        ).all()
    facts = {row.id: row for row in rows}
    entries = []
    for delivery in deliveries:
        row = facts.get(delivery.experiment_id)
        if row is None:
            continue
        entries.append(
            _Entry(row.id, row.name, row.researcher, row.project, delivery.payload)
        )
    return entries


def _ranked(
    tracker: Tracker, kind: str, entries: list[_Entry]
) -> list[tuple[_Entry, str | None]]:
    """Order entries best first: by the most common metric for completions."""
    if kind != "completed":
        return [(entry, None) for entry in reversed(entries)]
    metric = _common_metric(entries)
    if metric is None:
        return [(entry, None) for entry in reversed(entries)]
    direction = tracker.directions()(metric)
    with_value = [e for e in entries if _is_number(e.payload.get(metric))]
    without = [e for e in entries if not _is_number(e.payload.get(metric))]
    with_value.sort(key=lambda e: float(e.payload[metric]), reverse=direction != "min")
    return [(entry, metric) for entry in [*with_value, *without]]


def _common_metric(entries: list[_Entry]) -> str | None:
    counts: Counter[str] = Counter()
    for entry in entries:
        counts.update(key for key, value in entry.payload.items() if _is_number(value))
    if not counts:
        return None
    # The most common metric; ties go to the alphabetically first name.
    return min(counts, key=lambda key: (-counts[key], key))


def _entry_line(kind: str, entry: _Entry, metric: str | None) -> str:
    name = escape_to_fit(one_line(entry.name), NAME_CHARS)
    line = f"• *{name}* `{entry.experiment_id[:8]}`"
    detail = _detail(kind, entry, metric)
    return f"{line} — {detail}" if detail else line


def _detail(kind: str, entry: _Entry, metric: str | None) -> str:
    payload = entry.payload
    if kind == "completed" and metric is not None and _is_number(payload.get(metric)):
        value = format_number(float(payload[metric]))
        return f"{escape_to_fit(metric, 40)} *{value}*"
    if kind in ("failed", "cancelled"):
        return escape_to_fit(one_line(str(payload.get("reason") or "")), DETAIL_CHARS)
    if kind == "noted":
        return escape_to_fit(one_line(str(payload.get("text") or "")), DETAIL_CHARS)
    if kind == "threshold" and _is_number(payload.get("value")):
        value = format_number(float(payload["value"]))
        return f"{escape_to_fit(str(payload.get('metric', '')), 40)} reached *{value}*"
    return f"by {escape_to_fit(entry.researcher, 60)}"


def _counts_line(entries: list[_Entry]) -> str:
    parts = []
    projects = Counter(entry.project or "no project" for entry in entries)
    parts.append("Projects: " + _top_counts(projects))
    researchers = Counter(entry.researcher for entry in entries)
    parts.append("Researchers: " + _top_counts(researchers))
    return "  ·  ".join(parts)


def _top_counts(counts: Counter[str], shown: int = 5) -> str:
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    text = ", ".join(f"{escape_to_fit(name, 40)} {n}" for name, n in ordered[:shown])
    rest = len(ordered) - shown
    return text + (f", +{rest} more" if rest > 0 else "")


def _footer(kind: str, rest: int) -> str:
    parts = []
    if rest > 0:
        parts.append(f"+{rest} more not listed.")
    status = _STATUS_OF_KIND.get(kind)
    if status is not None:
        parts.append(f"List them with `/exp search status:{status}`.")
    return " ".join(parts)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
