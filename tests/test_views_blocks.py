"""The Block Kit helpers: escaping, truncation, chunking, the limit guard."""

from __future__ import annotations

import datetime as dt

import pytest
from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.views.blocks import (
    MAX_SECTION_TEXT,
    BlockLimitError,
    button,
    cap_blocks,
    check_blocks,
    code_chunks,
    cut_mrkdwn,
    escape,
    escape_to_fit,
    format_duration,
    format_number,
    format_percent,
    format_time,
    mention,
    pack_lines,
    paginate,
    section,
    text_size,
)


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("<!channel>", "&lt;!channel&gt;"),
        ("<@U1>", "&lt;@U1&gt;"),
        ("a & b", "a &amp; b"),
        ("<https://evil.example|click>", "&lt;https://evil.example|click&gt;"),
        ("&lt; typed", "&amp;lt; typed"),
        ("plain text", "plain text"),
    ],
)
def test_escape_neutralizes_markup(text: str, escaped: str) -> None:
    assert escape(text) == escaped


def test_cut_mrkdwn_keeps_entities_whole() -> None:
    text = escape("x" * 8 + "&&&&&&")

    for limit in range(9, 30):
        cut = cut_mrkdwn(text, limit)
        assert len(cut) <= limit
        assert not cut.rstrip("…").endswith(("&", "&a", "&am", "&amp"))


def test_cut_mrkdwn_keeps_mentions_whole() -> None:
    text = "owner <@U0ALICE> and more text"

    cut = cut_mrkdwn(text, 12)

    assert "<" not in cut


def test_escape_to_fit_respects_limit() -> None:
    text = escape_to_fit("<>" * 5000, 3000)

    assert len(text) <= 3000
    assert "<" not in text


def test_code_chunks_fit_section_limit() -> None:
    text = "\n".join(["&<>" * 700, "short", "k" * 7000])

    chunks = code_chunks(text)

    assert all(len(chunk) <= MAX_SECTION_TEXT for chunk in chunks)
    assert all(
        chunk.startswith("```\n") and chunk.endswith("\n```") for chunk in chunks
    )


def test_code_chunks_keep_every_character() -> None:
    lines = [f"key_{i}: {'&' * (i % 7)}<value {i}>" for i in range(800)]
    text = "\n".join(lines)

    chunks = code_chunks(text)
    bodies = [chunk[4:-4] for chunk in chunks]
    joined = "\n".join(bodies)

    assert len(chunks) > 1
    assert joined == escape(text)


def test_code_chunks_defuse_fences() -> None:
    chunks = code_chunks("before ``` after")

    assert chunks[0].count("```") == 2


def test_pack_lines_respects_limit() -> None:
    lines = [f"line {i} " + "y" * 90 for i in range(200)]

    texts = pack_lines(lines, 1000)

    assert all(len(text) <= 1000 for text in texts)
    assert sum(text.count("\n") + 1 for text in texts) == 200


def test_section_cuts_text_and_fields() -> None:
    block = section("t" * 5000, fields=["f" * 2500] * 12).to_dict()

    assert len(block["text"]["text"]) <= 3000
    assert len(block["fields"]) == 10
    assert all(len(field["text"]) <= 2000 for field in block["fields"])


def test_check_blocks_rejects_51_blocks() -> None:
    blocks = [DividerBlock() for _ in range(51)]

    with pytest.raises(BlockLimitError, match="51 blocks"):
        check_blocks(blocks)


def test_check_blocks_accepts_100_in_view() -> None:
    blocks = [DividerBlock() for _ in range(100)]

    assert len(check_blocks(blocks, max_blocks=100)) == 100


def test_check_blocks_rejects_long_field() -> None:
    # The SDK does not check the length of a section's fields.
    block = SectionBlock(fields=[MarkdownTextObject(text="f" * 2001)])

    with pytest.raises(BlockLimitError, match="field"):
        check_blocks([block])


def test_check_blocks_rejects_long_header() -> None:
    with pytest.raises(BlockLimitError, match="block 0"):
        check_blocks([HeaderBlock(text="h" * 151)])


def test_check_blocks_rejects_long_button_value() -> None:
    element = ButtonElement(text="Go", action_id="go", value="v" * 2001)

    with pytest.raises(BlockLimitError):
        check_blocks([ActionsBlock(elements=[element])])


def test_button_rejects_long_value() -> None:
    with pytest.raises(BlockLimitError, match="2000"):
        button("More", "expbot.more", "v" * 2001)


def test_check_blocks_rejects_text_over_budget() -> None:
    blocks = [section("t" * 3000) for _ in range(4)]

    with pytest.raises(BlockLimitError, match="12000 characters"):
        check_blocks(blocks, max_chars=11_000)


def test_text_size_counts_every_text() -> None:
    block = section("abc", fields=["de", "f"])

    assert text_size(block) == 6


def test_cap_blocks_keeps_within_chars() -> None:
    blocks = [section("t" * 1000) for _ in range(20)]

    capped = cap_blocks(blocks, 50, "row", max_chars=5500)

    assert sum(text_size(b) for b in capped) <= 5500
    assert capped[-1].to_dict()["elements"][0]["text"] == "_15 more rows not shown._"


def test_cap_blocks_keeps_within_count() -> None:
    capped = cap_blocks([DividerBlock() for _ in range(60)], 50)

    assert len(capped) == 50
    assert capped[-1].to_dict()["elements"][0]["text"] == "_11 more blocks not shown._"


def test_paginate_splits_at_50() -> None:
    pages = paginate([DividerBlock() for _ in range(120)])

    assert [len(page) for page in pages] == [50, 50, 20]


@pytest.mark.parametrize(
    ("slack_id", "shown"),
    [
        ("U0ALICE", "<@U0ALICE>"),
        ("W012AB3CD", "<@W012AB3CD>"),
        ("<!channel>", "alice"),
        ("u0alice", "alice"),
    ],
)
def test_mention_uses_only_real_ids(slack_id: str, shown: str) -> None:
    assert mention("alice", {"alice": slack_id}) == shown


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.93123, "0.9312"),
        (3.14159, "3.142"),
        (12345.678, "12346"),
        (42.0, "42"),
        (-0.5, "-0.5"),
        (0.0004, "0.0004"),
        (0.00004, "4.000e-05"),
        (2.5e9, "2500000000"),
        (2.5e20, "2.500e+20"),
        (None, "–"),
    ],
)
def test_format_number_table(value: float | None, text: str) -> None:
    assert format_number(value) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (45, "45s"),
        (725, "12m 05s"),
        (3 * 3600 + 20 * 60, "3h 20m"),
        (2 * 86400 + 4 * 3600, "2d 4h"),
        (-3, "0s"),
        (None, "–"),
    ],
)
def test_format_duration_table(seconds: float | None, text: str) -> None:
    assert format_duration(seconds) == text


def test_format_percent_undefined_is_na() -> None:
    assert format_percent(None) == "n/a"


def test_format_percent_rounds() -> None:
    assert format_percent(2 / 3) == "67%"


def test_format_time_has_utc_fallback() -> None:
    moment = dt.datetime(2026, 11, 3, 9, 5, tzinfo=dt.UTC)

    token = format_time(moment)

    assert token.startswith(f"<!date^{int(moment.timestamp())}^")
    assert token.endswith("|2026-11-03 09:05 UTC>")
