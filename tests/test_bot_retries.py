"""Repeated Slack deliveries: request ids and the processed_requests table."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from slack_bolt import BoltRequest, BoltResponse

from bot import in_flight
from bot.retries import RETENTION, RequestLog, make_middleware, request_key
from tests.fakeslack.payloads import (
    app_home_opened_event,
    block_action_payload,
    event_callback_payload,
    slash_command_payload,
    view_submission_payload,
)


def action_payload() -> dict[str, Any]:
    payload = block_action_payload(action_id="expbot.share", value="x")
    payload["actions"][0]["action_ts"] = "1700000000.123456"
    return payload


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            slash_command_payload(response_url="u", trigger_id="1.T.abc"),
            "command:1.T.abc",
        ),
        (
            event_callback_payload(app_home_opened_event(), event_id="Ev123"),
            "event:Ev123",
        ),
        (action_payload(), "action:U0ALICE:expbot.share:1700000000.123456"),
        ({"type": "shortcut", "trigger_id": "9.T.x"}, "shortcut:9.T.x"),
        (view_submission_payload(callback_id="c", values={}), None),
        ({"type": "block_suggestion", "value": "a"}, None),
        ({"type": "block_actions", "actions": []}, None),
        ({}, None),
    ],
)
def test_request_key_per_kind(body: dict[str, Any], expected: str | None) -> None:
    assert request_key(body) == expected


def test_claim_succeeds_once(tracker) -> None:
    log = RequestLog(tracker)
    assert log.claim("command:1")
    assert not log.claim("command:1")
    assert log.claim("command:2")


def test_claim_concurrent_only_one_wins(tracker) -> None:
    log = RequestLog(tracker)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(log.claim, ["event:Ev1"] * 8))
    assert results.count(True) == 1


def test_release_lets_key_act_again(tracker) -> None:
    log = RequestLog(tracker)
    log.claim("post:U0ALICE:C0MLTEAM:1.2:ab")
    log.release("post:U0ALICE:C0MLTEAM:1.2:ab")
    assert log.claim("post:U0ALICE:C0MLTEAM:1.2:ab")


def test_prune_forgets_old_ids(tracker, clock) -> None:
    log = RequestLog(tracker)
    log.claim("command:old")
    clock.advance(hours=RETENTION.total_seconds() / 3600 + 1)
    log.claim("command:new")
    removed = log.prune(clock.now - RETENTION)
    assert removed == 1
    assert log.claim("command:old")
    assert not log.claim("command:new")


def test_claim_prunes_on_interval(sqlite_tracker, clock) -> None:
    seconds = [0.0]
    log = RequestLog(sqlite_tracker, monotonic=lambda: seconds[0])
    log.claim("command:old")
    clock.advance(days=2)
    seconds[0] = 1.0
    log.claim("command:middle")
    assert not log.claim("command:old")
    clock.advance(days=2)
    seconds[0] = 10_000.0
    log.claim("command:late")
    assert log.claim("command:old")


def test_long_key_is_cut_consistently(sqlite_tracker) -> None:
    log = RequestLog(sqlite_tracker)
    key = "event:" + "x" * 500
    assert log.claim(key)
    assert not log.claim(key)


def test_retention_covers_slack_retries() -> None:
    # Slack retries within minutes of the first delivery.
    assert dt.timedelta(hours=1) <= RETENTION


def test_middleware_claims_in_flight(sqlite_tracker) -> None:
    counts: list[int] = []

    class CountingLog(RequestLog):
        def claim(self, key: str) -> bool:
            counts.append(in_flight.REQUESTS.count)
            return super().claim(key)

    middleware = make_middleware(CountingLog(sqlite_tracker))
    body = slash_command_payload(response_url="u", trigger_id="1.T.abc")
    request = BoltRequest(body="", headers={})

    first = middleware(request, body, lambda: BoltResponse(status=200, body="ran"))
    again = middleware(request, body, lambda: BoltResponse(status=200, body="ran"))

    assert first is not None and first.body == "ran"
    assert again is not None and again.body == ""
    assert counts == [1, 1]
    assert in_flight.REQUESTS.count == 0
