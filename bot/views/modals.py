"""Modals: share an experiment, add a note, show its config or its card.

Each modal's `private_metadata` carries the experiment id and the channel
the button was pressed in, as compact JSON, so that the submission
handler finds what to change and where to confirm it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    InputBlock,
    PlainTextInputElement,
    UserMultiSelectElement,
)
from slack_sdk.models.views import View

from bot.views.blocks import (
    CALLBACK_INFO,
    CALLBACK_NOTE,
    CALLBACK_SHARE,
    MAX_MESSAGE_BLOCKS,
    MAX_MESSAGE_CHARS,
    MAX_VIEW_BLOCKS,
    MAX_VIEW_CHARS,
    cap_blocks,
    check_blocks,
    code_chunks,
    context,
    escape_to_fit,
    one_line,
    people,
    plain,
    section,
    text_size,
    truncate,
)
from bot.views.cards import experiment_card
from tracker.configs import flatten
from tracker.errors import InvalidInput
from tracker.records import ExperimentRecord
from tracker.validation import MAX_NOTE_CHARS

SHARE_BLOCK = "share_users"
SHARE_INPUT = "users"
NOTE_BLOCK = "note_text"
NOTE_INPUT = "text"
MAX_SHARE_USERS = 20
MAX_TITLE = 24


@dataclass(frozen=True)
class ModalContext:
    """The experiment and channel a submission acts on, from private_metadata."""

    experiment_id: str
    channel_id: str | None = None


def share_modal(
    experiment_id: str,
    *,
    record: ExperimentRecord | None = None,
    channel_id: str | None = None,
) -> View:
    """Build the Share modal: a picker of up to 20 Slack users.

    Open it with only the id first (a trigger_id lasts 3 seconds), then
    update it with the `record` to show the name and current collaborators.
    """
    blocks: list[Block] = [section(_about(experiment_id, record))]
    if record is not None and record.collaborators:
        blocks.append(context(f"Shared with {people(record.collaborators, None)}"))
    blocks.append(
        InputBlock(
            block_id=SHARE_BLOCK,
            label=plain("Share with"),
            element=UserMultiSelectElement(
                action_id=SHARE_INPUT,
                placeholder=plain("Choose people"),
                max_selected_items=MAX_SHARE_USERS,
            ),
            hint=plain("They become collaborators and get a direct message."),
        )
    )
    return _modal(
        CALLBACK_SHARE, "Share experiment", blocks, experiment_id, channel_id, "Share"
    )


def note_modal(
    experiment_id: str,
    *,
    record: ExperimentRecord | None = None,
    channel_id: str | None = None,
) -> View:
    """Build the Add note modal: one multiline input of up to 10,000 characters."""
    blocks: list[Block] = [
        section(_about(experiment_id, record)),
        InputBlock(
            block_id=NOTE_BLOCK,
            label=plain("Note"),
            element=PlainTextInputElement(
                action_id=NOTE_INPUT,
                multiline=True,
                max_length=MAX_NOTE_CHARS,
                placeholder=plain("What did you learn from this run?"),
            ),
        ),
    ]
    return _modal(CALLBACK_NOTE, "Add note", blocks, experiment_id, channel_id, "Save")


def config_modal(record: ExperimentRecord) -> View:
    """Build a modal with the experiment's config as code blocks."""
    blocks = config_blocks(record, max_blocks=MAX_VIEW_BLOCKS, max_chars=MAX_VIEW_CHARS)
    return _modal(CALLBACK_INFO, "Config", blocks, record.id, None, None)


def config_blocks(
    record: ExperimentRecord,
    *,
    max_blocks: int = MAX_MESSAGE_BLOCKS,
    max_chars: int = MAX_MESSAGE_CHARS,
) -> list[Block]:
    """Build the config as `key: value` lines in code blocks of <= 3000 chars.

    A config too long for `max_blocks` and `max_chars` ends with a note
    saying how to get all of it.
    """
    title = (
        f"*{escape_to_fit(one_line(record.name), 150)}* `{record.short_id}` · "
        f"config version {record.config_version}"
    )
    blocks: list[Block] = [section(title)]
    if not record.config:
        blocks.append(context("This experiment has no config."))
        return check_blocks(blocks, max_blocks=max_blocks, max_chars=max_chars)

    chunks = code_chunks(config_text(record.config))
    note_chars = 200
    used = text_size(blocks[0])
    for chunk in chunks:
        last_block = len(blocks) + 1 == max_blocks
        if last_block or used + len(chunk) + note_chars > max_chars:
            break
        blocks.append(section(chunk))
        used += len(chunk)
    shown = len(blocks) - 1
    if shown < len(chunks):
        blocks.append(
            context(
                f"The config is too long to show here: {shown} of {len(chunks)} "
                f"parts shown. Run `expbot show {record.short_id} --json` for all "
                "of it."
            )
        )
    return check_blocks(blocks, max_blocks=max_blocks, max_chars=max_chars)


def config_text(config: Mapping[str, Any]) -> str:
    """Return one `dotted.key: value` line per leaf of the config."""
    lines = []
    for key, value in flatten(config):
        shown = (
            value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        )
        lines.append(f"{key}: {shown}")
    return "\n".join(lines)


def card_modal(
    record: ExperimentRecord,
    *,
    can_change: bool,
    slack_ids: Mapping[str, str] | None = None,
    **card_options: Any,
) -> View:
    """Build a modal that shows an experiment's card, buttons included."""
    blocks = experiment_card(
        record, can_change=can_change, slack_ids=slack_ids, **card_options
    )
    return _modal(CALLBACK_INFO, "Experiment", blocks, record.id, None, None)


def loading_modal(title: str, experiment_id: str) -> View:
    """Build the placeholder opened at once while the real modal is built."""
    blocks = [section(f":hourglass_flowing_sand: Loading `{experiment_id[:8]}`…")]
    return _modal(CALLBACK_INFO, title, blocks, experiment_id, None, None)


def message_modal(title: str, text: str) -> View:
    """Build a modal that only shows a message, e.g. why an action failed.

    `text` is plain text from an error and is escaped here.
    """
    blocks = [section(escape_to_fit(text, 2900))]
    return _modal(CALLBACK_INFO, title, blocks, "", None, None)


def read_metadata(view: Mapping[str, Any]) -> ModalContext:
    """Return the experiment id and channel stored in a submitted view.

    Raises InvalidInput when the metadata is missing or malformed.
    """
    try:
        data = json.loads(view.get("private_metadata") or "{}")
        experiment_id = str(data["id"])
    except (ValueError, TypeError, KeyError) as exc:
        raise InvalidInput(
            "This form lost its experiment id. Close it and press the button again."
        ) from exc
    channel = data.get("channel")
    return ModalContext(experiment_id, str(channel) if channel else None)


def _about(experiment_id: str, record: ExperimentRecord | None) -> str:
    if record is None:
        return f"Experiment `{escape_to_fit(experiment_id, 36)}`"
    return f"*{escape_to_fit(one_line(record.name), 200)}* `{record.short_id}`"


def _modal(
    callback_id: str,
    title: str,
    blocks: Sequence[Block],
    experiment_id: str,
    channel_id: str | None,
    submit: str | None,
) -> View:
    metadata: dict[str, str] = {"id": experiment_id}
    if channel_id:
        metadata["channel"] = channel_id
    capped = cap_blocks(blocks, MAX_VIEW_BLOCKS, max_chars=MAX_VIEW_CHARS)
    checked = check_blocks(capped, max_blocks=MAX_VIEW_BLOCKS, max_chars=MAX_VIEW_CHARS)
    return View(
        type="modal",
        callback_id=callback_id,
        title=plain(truncate(title, MAX_TITLE)),
        submit=plain(submit) if submit else None,
        close=plain("Close" if submit is None else "Cancel"),
        blocks=checked,
        private_metadata=json.dumps(metadata, separators=(",", ":")),
    )
