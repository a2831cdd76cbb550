"""Experiment cards and paged search results, on realistic and hostile records."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk.models.blocks import Block

from bot.views import (
    ACTION_ADD_NOTE,
    ACTION_MORE,
    ACTION_SHARE,
    ACTION_SHOW,
    ACTION_SHOW_CONFIG,
    experiment_card,
    more_value,
    parse_more_value,
    search_results,
)
from tests.fakeslack.limits import block_errors
from tracker.directions import default_direction
from tracker.errors import InvalidInput
from tracker.records import ExperimentRecord, NoteRecord

NOW = dt.datetime(2026, 11, 3, 12, 0, tzinfo=dt.UTC)
HOSTILE = "<!channel> ping <@U0BOB> & <https://evil.example|click>"


def make_record(**overrides: Any) -> ExperimentRecord:
    fields: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "name": "bert-base-finetune lr=3e-5",
        "description": "Fine-tune BERT base on the MT corpus.",
        "researcher": "alice",
        "team": "nlp",
        "project": "mt",
        "status": "completed",
        "visibility": "team",
        "source": "cli",
        "created_at": NOW - dt.timedelta(hours=5),
        "started_at": NOW - dt.timedelta(hours=5),
        "ended_at": NOW - dt.timedelta(hours=2),
        "updated_at": NOW - dt.timedelta(hours=2),
        "reason": "",
        "config": {"lr": 3e-5, "batch_size": 32, "model": {"name": "bert-base"}},
        "config_version": 1,
        "tags": ("nlp", "sweep-7"),
        "metrics": {"accuracy": 0.9312, "val/loss": 0.2345, "bleu": 31.4},
        "collaborators": ("bob",),
        "notes": (),
        "artifacts": ("s3://models/bert/ckpt-final",),
        "custom": {},
        "reproducibility": {"git_commit": "abc123", "git_dirty": False},
    }
    fields.update(overrides)
    return ExperimentRecord(**fields)


def serialised(blocks: list[Block]) -> list[dict[str, Any]]:
    return [block.to_dict() for block in blocks]


def mrkdwn_texts(node: Any) -> Iterator[str]:
    """Yield every mrkdwn text in serialised blocks, where Slack parses markup."""
    if isinstance(node, dict):
        if node.get("type") == "mrkdwn":
            yield node["text"]
        for value in node.values():
            yield from mrkdwn_texts(value)
    elif isinstance(node, list):
        for item in node:
            yield from mrkdwn_texts(item)


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


def buttons(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for block in blocks:
        if block["type"] == "actions":
            found += [e for e in block["elements"] if e["type"] == "button"]
        accessory = block.get("accessory")
        if accessory and accessory.get("type") == "button":
            found.append(accessory)
    return found


def assert_no_live_markup(blocks: list[dict[str, Any]]) -> None:
    for text in mrkdwn_texts(blocks):
        assert "<!channel>" not in text
        assert "<@U0BOB>" not in text
        assert "<https://evil.example" not in text


# -- the card ----------------------------------------------------------------


def test_card_realistic_within_limits() -> None:
    record = make_record(notes=(NoteRecord(1, "bob", "Looks converged.", NOW),))

    blocks = serialised(experiment_card(record, can_change=True, now=NOW))

    assert block_errors(blocks, 50) == []
    assert len(blocks) <= 10


def test_card_header_is_the_name() -> None:
    blocks = serialised(experiment_card(make_record(), can_change=True))

    assert blocks[0]["type"] == "header"
    assert blocks[0]["text"]["text"] == "bert-base-finetune lr=3e-5"


def test_card_long_name_header_cut() -> None:
    record = make_record(name="n" * 5000, description="d" * 10_000)

    blocks = serialised(experiment_card(record, can_change=True))

    assert len(blocks[0]["text"]["text"]) <= 150
    assert block_errors(blocks, 50) == []
    assert text_size(blocks) <= 11_000


def test_card_escapes_user_text() -> None:
    record = make_record(
        name=HOSTILE,
        description=HOSTILE,
        status="failed",
        reason=HOSTILE,
        tags=("ok", "<!here>"),
        config={HOSTILE: HOSTILE},
        metrics={"acc<@U0BOB>": 0.5},
        notes=(NoteRecord(1, "bob", HOSTILE, NOW),),
    )

    blocks = serialised(experiment_card(record, can_change=True))

    assert_no_live_markup(blocks)
    assert not any("<!here>" in text for text in mrkdwn_texts(blocks))


def test_card_500_key_config_within_limits() -> None:
    config = {f"layer_{i}.dropout": i / 1000 for i in range(500)}

    blocks = serialised(experiment_card(make_record(config=config), can_change=True))
    texts = "\n".join(mrkdwn_texts(blocks))

    assert block_errors(blocks, 50) == []
    assert "+494 more keys" in texts


def test_card_one_hidden_config_key() -> None:
    config = {f"key_{i}": i for i in range(7)}
    record = make_record(config=config)

    texts = "\n".join(
        mrkdwn_texts(serialised(experiment_card(record, can_change=True)))
    )

    assert "+1 more key: see all with Show config" in texts
    assert f"`expbot show {record.short_id}`" in texts
    assert "press" not in texts


def test_card_buttons_for_changer() -> None:
    record = make_record()

    found = buttons(serialised(experiment_card(record, can_change=True)))

    assert [b["action_id"] for b in found] == [
        ACTION_SHARE,
        ACTION_ADD_NOTE,
        ACTION_SHOW_CONFIG,
    ]
    assert {b["value"] for b in found} == {record.id}


def test_card_buttons_for_reader() -> None:
    found = buttons(serialised(experiment_card(make_record(), can_change=False)))

    assert [b["action_id"] for b in found] == [ACTION_SHOW_CONFIG]


def test_card_action_ids_are_namespaced() -> None:
    found = buttons(serialised(experiment_card(make_record(), can_change=True)))

    assert all(b["action_id"].startswith("expbot.") for b in found)


def test_card_owner_mention_with_slack_id() -> None:
    blocks = serialised(
        experiment_card(make_record(), can_change=True, slack_ids={"alice": "U0ALICE"})
    )

    assert any("*Owner*\n<@U0ALICE>" == text for text in mrkdwn_texts(blocks))


def test_card_owner_handle_without_slack_id() -> None:
    blocks = serialised(experiment_card(make_record(), can_change=True))

    assert any("*Owner*\nalice" == text for text in mrkdwn_texts(blocks))


def test_card_shows_collaborators() -> None:
    record = make_record(collaborators=tuple(f"user{i}" for i in range(12)))

    texts = list(mrkdwn_texts(serialised(experiment_card(record, can_change=True))))

    assert any(t.startswith("*Collaborators*\nuser0, user1") for t in texts)
    assert any("+4 more" in t for t in texts)


def test_card_shows_failure_reason() -> None:
    record = make_record(status="failed", reason="CUDA out of memory at step 1200")

    texts = "\n".join(
        mrkdwn_texts(serialised(experiment_card(record, can_change=True)))
    )

    assert ":x: *Failed*" in texts
    assert "CUDA out of memory at step 1200" in texts


def test_card_hides_reason_when_completed() -> None:
    record = make_record(reason="left over")

    texts = "\n".join(
        mrkdwn_texts(serialised(experiment_card(record, can_change=True)))
    )

    assert "left over" not in texts


def test_card_shows_latest_note() -> None:
    notes = (
        NoteRecord(1, "bob", "first thoughts", NOW - dt.timedelta(days=1)),
        NoteRecord(2, "alice", "final verdict", NOW),
    )

    texts = "\n".join(
        mrkdwn_texts(
            serialised(experiment_card(make_record(notes=notes), can_change=True))
        )
    )

    assert "final verdict" in texts
    assert "first thoughts" not in texts


def test_card_metric_directions_marked() -> None:
    blocks = experiment_card(
        make_record(), can_change=True, direction_of=default_direction
    )
    texts = "\n".join(mrkdwn_texts(serialised(blocks)))

    assert "`val/loss` ↓" in texts
    assert "`accuracy` ↑" in texts


def test_card_running_shows_elapsed() -> None:
    record = make_record(status="running", ended_at=None)

    blocks = experiment_card(record, can_change=True, now=NOW)
    texts = list(mrkdwn_texts(serialised(blocks)))

    assert "*Running for*\n5h 00m" in texts


def test_card_permalink_link() -> None:
    record = make_record()

    blocks = experiment_card(
        record, can_change=True, permalink_base="https://mlflow.example/exp/"
    )
    texts = "\n".join(mrkdwn_texts(serialised(blocks)))

    assert f"<https://mlflow.example/exp/{record.id}|Open>" in texts


def test_card_without_metrics_or_config() -> None:
    record = make_record(metrics={}, config={}, tags=(), collaborators=())

    blocks = serialised(experiment_card(record, can_change=True))

    assert block_errors(blocks, 50) == []
    assert not any("*Metrics*" in text for text in mrkdwn_texts(blocks))


# -- search results ----------------------------------------------------------


def records(count: int, **overrides: Any) -> list[ExperimentRecord]:
    overrides.setdefault("name", "run")
    name = overrides.pop("name")
    return [make_record(name=f"{name}-{i}", **overrides) for i in range(count)]


def test_search_200_results_pages_within_limits() -> None:
    found = records(200, description=HOSTILE)

    messages = search_results(
        found, query="tag:nlp", total=200, offset=0, page_size=200
    )
    dicts = [serialised(message) for message in messages]

    assert len(messages) >= 5
    for message in dicts:
        assert block_errors(message, 50) == []
        assert text_size(message) <= 11_000
        assert_no_live_markup(message)


def test_search_paging_shows_each_record_once() -> None:
    found = records(200)

    messages = search_results(found, query="", total=200, offset=0, page_size=200)
    shown = [
        b["value"]
        for message in messages
        for b in buttons(serialised(message))
        if b["action_id"] == ACTION_SHOW
    ]

    assert shown == [record.id for record in found]


def test_search_more_button_carries_next_offset() -> None:
    messages = search_results(
        records(20), query="status:failed", total=200, offset=40, page_size=20
    )
    more = [
        b for b in buttons(serialised(messages[-1])) if b["action_id"] == ACTION_MORE
    ]

    page = parse_more_value(more[0]["value"])

    assert page.query == "status:failed"
    assert page.offset == 60
    assert page.page_size == 20


@pytest.mark.parametrize(
    ("total", "offset", "count", "label"),
    [
        (46, 0, 20, "Next 20 (21–40 of 46)"),
        (46, 20, 20, "Next 6 (41–46 of 46)"),
        (21, 0, 20, "Next 1 (21 of 21)"),
    ],
)
def test_search_next_button_label(
    total: int, offset: int, count: int, label: str
) -> None:
    messages = search_results(
        records(count), query="tag:nlp", total=total, offset=offset, page_size=20
    )
    more = [
        b for b in buttons(serialised(messages[-1])) if b["action_id"] == ACTION_MORE
    ]

    assert more[0]["text"]["text"] == label


def test_search_lower_bound_total_shown_with_plus() -> None:
    messages = search_results(
        records(20), query="tag:nlp", total=1000, more_than_total=True
    )
    blocks = serialised(messages[-1])
    more = [b for b in buttons(blocks) if b["action_id"] == ACTION_MORE]

    intro = serialised(messages[0])[0]["text"]["text"]

    assert intro == "*1,000+ experiments* match `tag:nlp` · showing 1–20"
    assert more[0]["text"]["text"] == "Next 20 (21–40 of 1,000+)"


def test_search_past_lower_bound_keeps_next() -> None:
    messages = search_results(
        records(20),
        query="tag:nlp",
        total=1000,
        offset=980,
        page_size=20,
        more_than_total=True,
    )
    more = [
        b for b in buttons(serialised(messages[-1])) if b["action_id"] == ACTION_MORE
    ]

    assert more[0]["text"]["text"] == "Next 20 (1001–1020 of 1,000+)"


def test_search_notice_under_first_line() -> None:
    messages = search_results(
        records(3), query="sort:acc", total=3, notice="No experiment has `acc`"
    )

    blocks = serialised(messages[0])

    assert blocks[1]["type"] == "context"
    assert blocks[1]["elements"][0]["text"] == "No experiment has `acc`"


def test_search_last_page_has_no_more() -> None:
    messages = search_results(records(5), query="", total=25, offset=20, page_size=20)

    found = [b["action_id"] for b in buttons(serialised(messages[-1]))]

    assert ACTION_MORE not in found


def test_search_page_counts_in_intro() -> None:
    messages = search_results(records(20), query="tag:nlp", total=45, offset=20)

    intro = serialised(messages[0])[0]["text"]["text"]

    assert intro == "*45 experiments* match `tag:nlp` · showing 21–40"


def test_search_long_query_has_no_button() -> None:
    query = "x" * 3000

    messages = search_results(records(20), query=query, total=100, page_size=20)
    last = serialised(messages[-1])

    assert ACTION_MORE not in [b["action_id"] for b in buttons(last)]
    assert "too long to page" in "\n".join(mrkdwn_texts(last))


def test_search_more_value_is_compact_json() -> None:
    value = more_value('tag:nlp "quoted phrase"', 20, 20)

    assert value == '{"q":"tag:nlp \\"quoted phrase\\"","o":20,"n":20}'


def test_search_more_value_caps_page_size() -> None:
    value = more_value("tag:nlp", 0, 200) or ""

    assert parse_more_value(value).page_size == 50


def test_search_longest_rows_fit_responses() -> None:
    longest = records(
        50,
        name="&" * 200,
        researcher="r" * 100,
        team="t" * 100,
        project="p" * 100,
        metrics={f"m{i}_" + "&" * 190: 1.0 for i in range(3)},
        tags=tuple(f"tag{i}" + "x" * 58 for i in range(12)),
    )

    messages = search_results(longest, query="q" * 500, total=500, page_size=50)

    assert len(messages) <= 4
    assert all(text_size(serialised(m)) <= 11_000 for m in messages)


def test_search_more_value_none_when_too_long() -> None:
    assert more_value("q" * 2000, 20, 20) is None


def test_search_empty_result_message() -> None:
    messages = search_results([], query="tag:missing", total=0)

    text = serialised(messages[0])[0]["text"]["text"]

    assert len(messages) == 1
    assert text.startswith("No experiments match `tag:missing`")


def test_search_escapes_query() -> None:
    messages = search_results(records(1), query=HOSTILE, total=1)

    assert_no_live_markup(serialised(messages[0]))


@pytest.mark.parametrize(
    "value",
    [
        "",
        "not json",
        "[]",
        '{"q": "x", "o": 20}',
        '{"q": 5, "o": 20, "n": 20}',
        '{"q": "x", "o": -1, "n": 20}',
        '{"q": "x", "o": 0, "n": 0}',
        '{"q": "x", "o": 0, "n": 100000}',
        json.dumps({"q": "x", "o": "20", "n": 20}),
    ],
)
def test_parse_more_value_rejects_malformed(value: str) -> None:
    with pytest.raises(InvalidInput, match="Next button"):
        parse_more_value(value)
