"""The share, note, config and card modals, and config messages."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import pytest

from bot.views import (
    CALLBACK_NOTE,
    CALLBACK_SHARE,
    card_modal,
    config_blocks,
    config_modal,
    loading_modal,
    message_modal,
    note_modal,
    read_metadata,
    share_modal,
)
from bot.views.modals import NOTE_BLOCK, NOTE_INPUT, SHARE_BLOCK, SHARE_INPUT
from tests.fakeslack.limits import block_errors, view_errors
from tracker.errors import InvalidInput
from tracker.records import ExperimentRecord

NOW = dt.datetime(2026, 11, 3, 12, 0, tzinfo=dt.UTC)


def make_record(**overrides: Any) -> ExperimentRecord:
    fields: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "name": "whisper-small finetune",
        "description": "",
        "researcher": "alice",
        "team": "speech",
        "project": "asr",
        "status": "running",
        "visibility": "team",
        "source": "nemo_run",
        "created_at": NOW,
        "started_at": NOW,
        "ended_at": None,
        "updated_at": NOW,
        "reason": "",
        "config": {"lr": 1e-4, "trainer": {"devices": 8, "precision": "bf16"}},
        "config_version": 3,
        "tags": (),
        "metrics": {},
        "collaborators": ("bob", "carol"),
        "notes": (),
        "artifacts": (),
        "custom": {},
        "reproducibility": {},
    }
    fields.update(overrides)
    return ExperimentRecord(**fields)


def input_block(view: dict[str, Any], block_id: str) -> dict[str, Any]:
    return next(b for b in view["blocks"] if b.get("block_id") == block_id)


def sections_text(view: dict[str, Any]) -> str:
    return "\n".join(
        b["text"]["text"] for b in view["blocks"] if b["type"] == "section"
    )


def test_share_modal_has_user_picker() -> None:
    view = share_modal("3f2a9c1b").to_dict()

    element = input_block(view, SHARE_BLOCK)["element"]

    assert view_errors(view) == []
    assert view["callback_id"] == CALLBACK_SHARE
    assert element["type"] == "multi_users_select"
    assert element["action_id"] == SHARE_INPUT


def test_share_modal_lists_collaborators() -> None:
    record = make_record()

    view = share_modal(record.id, record=record).to_dict()
    context = [b for b in view["blocks"] if b["type"] == "context"][0]

    assert context["elements"][0]["text"] == "Shared with bob, carol"


def test_share_modal_metadata_round_trip() -> None:
    view = share_modal("3f2a9c1b-aaaa", channel_id="C0MLTEAM").to_dict()

    target = read_metadata(view)

    assert target.experiment_id == "3f2a9c1b-aaaa"
    assert target.channel_id == "C0MLTEAM"


def test_note_modal_multiline_input() -> None:
    view = note_modal("3f2a9c1b").to_dict()

    element = input_block(view, NOTE_BLOCK)["element"]

    assert view_errors(view) == []
    assert view["callback_id"] == CALLBACK_NOTE
    assert element["type"] == "plain_text_input"
    assert element["action_id"] == NOTE_INPUT
    assert element["multiline"] is True
    assert element["max_length"] == 10_000


def test_note_modal_escapes_name() -> None:
    record = make_record(name="<!channel> results")

    view = note_modal(record.id, record=record).to_dict()

    assert "&lt;!channel&gt; results" in sections_text(view)


def test_read_metadata_rejects_missing_id() -> None:
    with pytest.raises(InvalidInput, match="lost its experiment id"):
        read_metadata({"private_metadata": "{}"})


def test_config_modal_shows_flat_keys() -> None:
    view = config_modal(make_record()).to_dict()

    assert view_errors(view) == []
    assert "trainer.devices: 8" in sections_text(view)
    assert "trainer.precision: bf16" in sections_text(view)


def text_size(node: Any) -> int:
    """Count the characters of every `text` string, as Slack's budget does."""
    if isinstance(node, dict):
        return sum(
            len(value) if key == "text" and isinstance(value, str) else text_size(value)
            for key, value in node.items()
        )
    if isinstance(node, list):
        return sum(text_size(item) for item in node)
    return 0


def test_config_modal_500_keys_within_limits() -> None:
    config = {f"model.layers.{i}.<@U0BOB>": "&" * 4 for i in range(500)}

    view = config_modal(make_record(config=config)).to_dict()
    texts = sections_text(view)

    assert view_errors(view) == []
    assert all(len(b["text"]["text"]) <= 3000 for b in view["blocks"][1:])
    assert texts.count("&lt;@U0BOB&gt;") == 500
    assert "<@U0BOB>" not in texts


def test_config_modal_huge_config_says_how() -> None:
    config = {f"key_{i}": "v" * 400 for i in range(2000)}

    view = config_modal(make_record(config=config)).to_dict()
    last = view["blocks"][-1]

    assert view_errors(view) == []
    assert text_size(view["blocks"]) <= 50_000
    assert "--json" in last["elements"][0]["text"]


def test_config_blocks_fit_one_message() -> None:
    config = {f"key_{i}": "v" * 400 for i in range(2000)}

    blocks = [b.to_dict() for b in config_blocks(make_record(config=config))]

    assert block_errors(blocks, 50) == []
    assert text_size(blocks) <= 11_000
    assert "3 of 286 parts shown" in blocks[-1]["elements"][0]["text"]


def test_config_blocks_empty_config() -> None:
    blocks = [b.to_dict() for b in config_blocks(make_record(config={}))]

    assert blocks[-1]["elements"][0]["text"] == "This experiment has no config."


def test_card_modal_has_card_buttons() -> None:
    view = card_modal(make_record(), can_change=True).to_dict()
    actions = [b for b in view["blocks"] if b["type"] == "actions"]

    assert view_errors(view) == []
    assert [e["text"]["text"] for e in actions[0]["elements"]] == [
        "Share",
        "Add note",
        "Show config",
    ]


def test_loading_modal_valid() -> None:
    view = loading_modal("Experiment", str(uuid.uuid4())).to_dict()

    assert view_errors(view) == []
    assert "submit" not in view


def test_message_modal_escapes_text() -> None:
    view = message_modal("Share experiment", "No `<!here>` & " + "x" * 5000).to_dict()

    text = sections_text(view)

    assert view_errors(view) == []
    assert text.startswith("No `&lt;!here&gt;` &amp; ")


def test_modal_title_cut_to_24() -> None:
    view = message_modal("A title that is far too long for Slack", "text").to_dict()

    assert len(view["title"]["text"]) <= 24


def test_modal_metadata_is_compact_json() -> None:
    view = share_modal("abc", channel_id="C1").to_dict()

    assert json.loads(view["private_metadata"]) == {"id": "abc", "channel": "C1"}
