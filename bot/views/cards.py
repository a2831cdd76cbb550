"""One experiment as a Block Kit card, and as a one-line row for lists."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from typing import Any

from slack_sdk.models.blocks import Block, ButtonElement

from bot.views.blocks import (
    ACTION_ADD_NOTE,
    ACTION_SHARE,
    ACTION_SHOW,
    ACTION_SHOW_CONFIG,
    MAX_MESSAGE_CHARS,
    actions,
    button,
    check_blocks,
    code_span,
    context,
    escape_to_fit,
    format_duration,
    format_number,
    format_time,
    header,
    mention,
    one_line,
    people,
    section,
    status_text,
)
from tracker.configs import flatten
from tracker.grammar import plural
from tracker.records import ExperimentRecord, NoteRecord

DirectionOf = Callable[[str], str]

CARD_METRICS = 8
CARD_CONFIG_KEYS = 6
CARD_TAGS = 12
DESCRIPTION_CHARS = 300
REASON_CHARS = 600
NOTE_CHARS = 400
ROW_METRICS = 3


def experiment_card(
    record: ExperimentRecord,
    *,
    can_change: bool,
    permalink_base: str | None = None,
    direction_of: DirectionOf | None = None,
    slack_ids: Mapping[str, str] | None = None,
    now: dt.datetime | None = None,
) -> list[Block]:
    """Build the card for one experiment: at most 8 blocks.

    `can_change` shows the Share and Add note buttons; Show config is
    always there. `permalink_base` (a URL) adds an "Open" link to
    `{permalink_base}/{id}`. `slack_ids` maps researcher handles to Slack
    user ids, which show as mentions.
    """
    blocks: list[Block] = [
        header(record.name),
        section(_status_line(record), fields=_fact_fields(record, slack_ids, now)),
    ]
    if record.metrics:
        blocks.append(section(_metrics_text(record.metrics, direction_of)))
    if record.config:
        blocks.append(section(_config_text(record.config, record.short_id)))
    if record.reason and record.status in ("failed", "cancelled"):
        reason = escape_to_fit(record.reason.strip(), REASON_CHARS)
        blocks.append(section(f"*Reason*\n>{_quote(reason)}"))
    note = latest_note(record)
    if note is not None:
        blocks.append(section(_note_text(note, slack_ids)))
    blocks.append(context(*_footer(record, permalink_base)))
    blocks.append(actions(*card_buttons(record, can_change=can_change)))
    return check_blocks(blocks, max_chars=MAX_MESSAGE_CHARS)


def card_buttons(record: ExperimentRecord, *, can_change: bool) -> list[ButtonElement]:
    """Return the card's buttons; each carries the experiment id as value."""
    buttons = []
    if can_change:
        buttons.append(button("Share", ACTION_SHARE, record.id))
        buttons.append(button("Add note", ACTION_ADD_NOTE, record.id))
    buttons.append(button("Show config", ACTION_SHOW_CONFIG, record.id))
    return buttons


def experiment_row(
    record: ExperimentRecord,
    *,
    slack_ids: Mapping[str, str] | None = None,
    with_button: bool = True,
) -> Block:
    """Build one section that sums up an experiment, for lists and App Home."""
    first = (
        f"{status_text(record.status)}  *{escape_to_fit(one_line(record.name), 120)}*"
        f"  `{record.short_id}`"
    )
    facts = [mention(record.researcher, slack_ids)]
    if record.project or record.team:
        facts.append(escape_to_fit(_team_project(record), 80))
    if record.duration is not None:
        facts.append(format_duration(record.duration.total_seconds()))
    facts.append(format_time(record.created_at))
    lines = [first, " · ".join(facts)]
    metrics = [
        f"{escape_to_fit(key, 40)} {format_number(value)}"
        for key, value in sorted(record.metrics.items())[:ROW_METRICS]
    ]
    tags = [escape_to_fit(f"#{tag}", 40) for tag in record.tags[:5]]
    if metrics or tags:
        lines.append(" · ".join(metrics + tags))
    accessory = button("Show", ACTION_SHOW, record.id) if with_button else None
    return section("\n".join(lines), accessory=accessory)


def latest_note(record: ExperimentRecord) -> NoteRecord | None:
    if not record.notes:
        return None
    return max(record.notes, key=lambda note: (note.created_at, note.id))


def _status_line(record: ExperimentRecord) -> str:
    line = f"{status_text(record.status)}  ·  `{record.short_id}`"
    if record.visibility == "private":
        line += "  ·  :lock: private"
    description = one_line(record.description)
    if description:
        line += f"\n{escape_to_fit(description, DESCRIPTION_CHARS)}"
    return line


def _fact_fields(
    record: ExperimentRecord,
    slack_ids: Mapping[str, str] | None,
    now: dt.datetime | None,
) -> list[str]:
    fields = [f"*Owner*\n{mention(record.researcher, slack_ids)}"]
    if record.collaborators:
        fields.append(f"*Collaborators*\n{people(record.collaborators, slack_ids)}")
    if record.project or record.team:
        fields.append(f"*Team / project*\n{escape_to_fit(_team_project(record), 200)}")
    fields.append(f"*Started*\n{format_time(record.started_at or record.created_at)}")
    if record.ended_at is not None:
        fields.append(f"*Ended*\n{format_time(record.ended_at)}")
    fields.append(_duration_field(record, now))
    return fields


def _duration_field(record: ExperimentRecord, now: dt.datetime | None) -> str:
    if record.duration is not None:
        return f"*Duration*\n{format_duration(record.duration.total_seconds())}"
    if record.status == "running" and record.started_at is not None:
        current = now or dt.datetime.now(dt.UTC)
        elapsed = (current - record.started_at).total_seconds()
        return f"*Running for*\n{format_duration(elapsed)}"
    return "*Duration*\n–"


def _team_project(record: ExperimentRecord) -> str:
    return " / ".join(part for part in (record.team, record.project) if part)


def _metrics_text(
    metrics: Mapping[str, float], direction_of: DirectionOf | None
) -> str:
    lines = []
    for key, value in sorted(metrics.items())[:CARD_METRICS]:
        arrow = ""
        if direction_of is not None:
            arrow = " ↓" if direction_of(key) == "min" else " ↑"
        lines.append(f"`{escape_to_fit(key, 80)}`{arrow}  *{format_number(value)}*")
    rest = len(metrics) - CARD_METRICS
    if rest > 0:
        lines.append(f"_+{plural(rest, 'more metric')}_")
    return "*Metrics*\n" + "\n".join(lines)


def _config_text(config: Mapping[str, Any], short_id: str) -> str:
    items = list(flatten(config))
    shown = [
        f"{code_span(key, 60)} {escape_to_fit(_config_value(value), 60)}"
        for key, value in items[:CARD_CONFIG_KEYS]
    ]
    text = "*Config*\n" + "  ·  ".join(shown)
    rest = len(items) - CARD_CONFIG_KEYS
    if rest > 0:
        # The shell shows the card without working buttons, so the CLI
        # command is named too.
        text += (
            f"\n_+{plural(rest, 'more key')}: see all with Show config "
            f"or `expbot show {short_id}`_"
        )
    return text


def _config_value(value: Any) -> str:
    if isinstance(value, str):
        return one_line(value)
    # Configs show exact values (3e-05, not 3.000e-05) as they were set.
    return json.dumps(value, sort_keys=True)


def _note_text(note: NoteRecord, slack_ids: Mapping[str, str] | None) -> str:
    text = escape_to_fit(note.text.strip(), NOTE_CHARS)
    author = mention(note.author, slack_ids)
    when = format_time(note.created_at)
    return f":memo: *Latest note* by {author}, {when}\n>{_quote(text)}"


def _quote(text: str) -> str:
    return text.replace("\n", "\n>")


def _footer(record: ExperimentRecord, permalink_base: str | None) -> list[str]:
    parts = [f"`{record.id}`", f"source {record.source}"]
    if record.tags:
        shown = ", ".join(escape_to_fit(tag, 64) for tag in record.tags[:CARD_TAGS])
        rest = len(record.tags) - CARD_TAGS
        more = f" +{rest}" if rest > 0 else ""
        parts.insert(0, f":label: {shown}{more}")
    if record.notes:
        count = len(record.notes)
        parts.append(plural(count, "note"))
    if permalink_base:
        url = f"{permalink_base.rstrip('/')}/{record.id}"
        parts.append(f"<{_safe_url(url)}|Open>")
    return [" · ".join(parts)]


def _safe_url(url: str) -> str:
    # `|` and `>` would end the link markup early.
    return url.replace("|", "%7C").replace(">", "%3E").replace("<", "%3C")
