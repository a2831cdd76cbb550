"""Block Kit rendered as terminal text for `expbot shell`."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from pathlib import Path

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.views import experiment_card, note_modal, render_text
from bot.views.blocks import format_time
from bot.views.render_text import EMOJI, to_plain
from tracker.records import ExperimentRecord

NOW = dt.datetime(2026, 11, 3, 12, 0, tzinfo=dt.UTC)


def test_header_is_underlined() -> None:
    text = render_text([HeaderBlock(text="Leaderboard: bleu")])

    assert text == "Leaderboard: bleu\n================="


def test_fields_in_two_columns() -> None:
    block = SectionBlock(
        fields=[
            MarkdownTextObject(text="*Owner*\nalice"),
            MarkdownTextObject(text="*Duration*\n2h 05m"),
        ]
    )

    text = render_text([block])

    assert text == "Owner: alice" + " " * 30 + "Duration: 2h 05m"


def test_long_field_on_own_line() -> None:
    block = SectionBlock(
        fields=[
            MarkdownTextObject(text="*Collaborators*\n" + "bob, " * 20),
            MarkdownTextObject(text="*Duration*\n2h"),
        ]
    )

    lines = render_text([block]).split("\n")

    assert len(lines) == 2
    assert lines[1] == "Duration: 2h"


def test_buttons_in_brackets() -> None:
    block = ActionsBlock(
        elements=[
            ButtonElement(text="Share", action_id="a", value="1"),
            ButtonElement(text="Add note", action_id="b", value="1"),
        ]
    )

    assert render_text([block]) == "[Share] [Add note]"


def test_context_and_divider() -> None:
    blocks = [
        ContextBlock(elements=[MarkdownTextObject(text="_2 more_")]),
        DividerBlock(),
    ]

    assert render_text(blocks) == "2 more\n" + "-" * 40


def test_to_plain_converts_markup() -> None:
    text = (
        "*Owner* <@U0ALICE> in <#C1|ml-team> <!here> "
        "<https://x.example/a|Open> &lt;b&gt; &amp; :white_check_mark:"
    )

    assert to_plain(text) == (
        "Owner @U0ALICE in #ml-team @here Open (https://x.example/a) <b> & ✅"
    )


def test_to_plain_uses_date_fallback() -> None:
    assert to_plain(format_time(NOW)) == "2026-11-03 12:00 UTC"


def test_to_plain_indents_code() -> None:
    assert to_plain("Config\n```\nlr: 0.1\nbs: &lt;32&gt;\n```") == (
        "Config\n    lr: 0.1\n    bs: <32>"
    )


def test_to_plain_quotes() -> None:
    assert to_plain("*Reason*\n>CUDA &gt; 80GB") == "Reason\n  | CUDA > 80GB"


def test_render_view_has_title() -> None:
    text = render_text(note_modal("3f2a9c1b"))

    assert text.startswith("Add note\n========\n")
    assert "Note: <What did you learn from this run?>" in text


def test_render_card_readable() -> None:
    record = ExperimentRecord(
        id=str(uuid.uuid4()),
        name="bert <!channel>",
        description="",
        researcher="alice",
        team="nlp",
        project="mt",
        status="completed",
        visibility="team",
        source="cli",
        created_at=NOW,
        started_at=NOW,
        ended_at=NOW + dt.timedelta(hours=1),
        updated_at=NOW,
        reason="",
        config={},
        config_version=1,
        tags=("nlp",),
        metrics={"accuracy": 0.9},
        collaborators=(),
        notes=(),
        artifacts=(),
        custom={},
        reproducibility={},
    )

    text = render_text(experiment_card(record, can_change=True))

    assert text.startswith("bert <!channel>\n===============\n✅ Completed")
    assert "Duration: 1h 00m" in text
    assert "`accuracy`  0.9" in text
    assert text.endswith("[Share] [Add note] [Show config]")


def test_every_bot_shortcode_has_emoji() -> None:
    # Shortcodes such as ":warning:" in the bot's string literals.
    pattern = re.compile(r"(?<![\w:/]):([a-z][a-z0-9_+-]*):(?![\w/])")
    used = {
        code
        for path in (Path(__file__).resolve().parent.parent / "bot").rglob("*.py")
        for code in pattern.findall(path.read_text())
    }

    assert used
    assert used - set(EMOJI) == set()


def test_reply_shortcodes_become_emoji() -> None:
    text = to_plain(":calendar: Scheduled · :warning: late · :no_entry: denied")

    assert text == "📅 Scheduled · ⚠ late · ⛔ denied"
