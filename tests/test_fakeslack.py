"""The fake Slack, driven by the real slack_sdk and slack-bolt clients."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.request import BoltRequest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import Clock, SignatureVerifier
from slack_sdk.webhook import WebhookClient
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.fakeslack import (
    BOT_USER_ID,
    RESPONSE_URL,
    UPLOAD_URL,
    Channel,
    FakeSlack,
    Fault,
    RateLimit,
    SocketModeFake,
)
from tests.fakeslack.api import DEFAULT_BOT_SCOPES
from tests.fakeslack.payloads import (
    app_home_opened_event,
    block_action_body,
    block_action_payload,
    event_callback_body,
    event_callback_payload,
    slash_command_body,
    slash_command_payload,
    view_submission_body,
    view_submission_payload,
)
from tests.fakeslack.signing import JSON_CONTENT_TYPE, post_signed, sign_request

CHANNEL = "C0MLTEAM"


def slack_error(call: Any) -> SlackApiError:
    with pytest.raises(SlackApiError) as caught:
        call()
    return caught.value


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


# -- Web API: auth and messages ----------------------------------------------


def test_wrong_token_is_invalid_auth(fake_slack: FakeSlack) -> None:
    client = WebClient(token="xoxb-wrong", base_url=fake_slack.api_url)

    error = slack_error(lambda: client.chat_postMessage(channel=CHANNEL, text="hi"))

    assert error.response["error"] == "invalid_auth"
    assert fake_slack.messages(CHANNEL) == []


def test_missing_token_is_not_authed(fake_slack: FakeSlack) -> None:
    client = WebClient(base_url=fake_slack.api_url)

    error = slack_error(client.auth_test)

    assert error.response["error"] == "not_authed"


def test_bearer_header_is_recorded(
    fake_slack_client: WebClient, fake_slack: FakeSlack
) -> None:
    fake_slack_client.auth_test()

    call = fake_slack.wait_for_calls("auth.test")[0]

    assert call.headers["Authorization"] == f"Bearer {fake_slack.bot_token}"
    assert call.ok


def test_post_message_ts_increases(fake_slack_client: WebClient) -> None:
    replies = [
        fake_slack_client.chat_postMessage(channel=CHANNEL, text=f"run {i}")
        for i in range(3)
    ]

    stamps = [reply["ts"] for reply in replies]

    assert all(reply["channel"] == CHANNEL for reply in replies)
    assert len(set(stamps)) == 3
    assert stamps == sorted(stamps, key=float)


def test_post_message_by_channel_name(fake_slack_client: WebClient) -> None:
    reply = fake_slack_client.chat_postMessage(channel="#ml-team", text="hi")

    assert reply["channel"] == CHANNEL


def test_form_encoded_params_are_parsed(fake_slack: FakeSlack) -> None:
    client = WebClient(token=fake_slack.bot_token, base_url=fake_slack.api_url)

    client.api_call("chat.postMessage", params={"channel": CHANNEL, "text": "form"})

    call = fake_slack.wait_for_calls("chat.postMessage")[0]
    assert call.params == {"channel": CHANNEL, "text": "form"}
    assert fake_slack.messages(CHANNEL)[0].text == "form"


def test_thread_reply_stored_under_parent(
    fake_slack_client: WebClient, fake_slack: FakeSlack
) -> None:
    parent = fake_slack_client.chat_postMessage(channel=CHANNEL, text="card")
    fake_slack_client.chat_postMessage(
        channel=CHANNEL, text="completed", thread_ts=parent["ts"]
    )

    replies = fake_slack.replies(CHANNEL, parent["ts"])

    assert [m.text for m in replies] == ["completed"]
    assert [m.text for m in fake_slack.messages(CHANNEL)] == ["card"]


def test_thread_reply_to_unknown_parent(fake_slack_client: WebClient) -> None:
    error = slack_error(
        lambda: fake_slack_client.chat_postMessage(
            channel=CHANNEL, text="lost", thread_ts="1.000001"
        )
    )

    assert error.response["error"] == "thread_not_found"


def test_update_replaces_text_and_blocks(
    fake_slack_client: WebClient, fake_slack: FakeSlack
) -> None:
    posted = fake_slack_client.chat_postMessage(channel=CHANNEL, text="running")

    fake_slack_client.chat_update(
        channel=CHANNEL,
        ts=posted["ts"],
        text="completed",
        blocks=[section("*completed*")],
    )

    message = fake_slack.message(CHANNEL, posted["ts"])
    assert message is not None
    assert message.text == "completed"
    assert message.blocks == [section("*completed*")]
    assert message.edits == 1


def test_update_unknown_ts_not_found(fake_slack_client: WebClient) -> None:
    error = slack_error(
        lambda: fake_slack_client.chat_update(channel=CHANNEL, ts="1.000001", text="x")
    )

    assert error.response["error"] == "message_not_found"


def test_public_channel_without_bot_posts(fake_slack_client: WebClient) -> None:
    reply = fake_slack_client.chat_postMessage(channel="C0RANDOM", text="hi")

    assert reply["ok"]


def test_without_public_scope_not_in_channel() -> None:
    scopes = DEFAULT_BOT_SCOPES - {"chat:write.public"}
    with FakeSlack(scopes=scopes) as fake:
        client = WebClient(token=fake.bot_token, base_url=fake.api_url)

        error = slack_error(
            lambda: client.chat_postMessage(channel="C0RANDOM", text="hi")
        )

    assert error.response["error"] == "not_in_channel"


@pytest.mark.parametrize(
    ("channel", "expected"),
    [("G0SECRET", "channel_not_found"), ("C0NOWHERE", "channel_not_found")],
)
def test_post_to_hidden_channel_fails(
    fake_slack_client: WebClient, channel: str, expected: str
) -> None:
    error = slack_error(
        lambda: fake_slack_client.chat_postMessage(channel=channel, text="x")
    )

    assert error.response["error"] == expected


def test_missing_scope_names_needed_scope() -> None:
    with FakeSlack(scopes={"chat:write"}) as fake:
        client = WebClient(token=fake.bot_token, base_url=fake.api_url)

        error = slack_error(lambda: client.users_info(user="U0ALICE"))

    assert error.response["error"] == "missing_scope"
    assert error.response["needed"] == "users:read"


def test_unknown_method_is_reported(fake_slack_client: WebClient) -> None:
    error = slack_error(lambda: fake_slack_client.api_call("reactions.add"))

    assert error.response["error"] == "unknown_method"


def test_ephemeral_stored_for_user(
    fake_slack: FakeSlack, fake_slack_client: WebClient
) -> None:
    fake_slack_client.chat_postEphemeral(channel=CHANNEL, user="U0BOB", text="only bob")

    [ephemeral] = fake_slack.ephemerals()

    assert ephemeral.user == "U0BOB"
    assert ephemeral.text == "only bob"
    assert fake_slack.messages(CHANNEL) == []


def test_ephemeral_needs_user_in_channel(
    fake_slack: FakeSlack, fake_slack_client: WebClient
) -> None:
    fake_slack.add_channel(
        Channel("C0SMALL", "small", members={"U0ALICE", BOT_USER_ID})
    )

    error = slack_error(
        lambda: fake_slack_client.chat_postEphemeral(
            channel="C0SMALL", user="U0BOB", text="x"
        )
    )

    assert error.response["error"] == "user_not_in_channel"


def test_permalink_points_at_message(fake_slack_client: WebClient) -> None:
    posted = fake_slack_client.chat_postMessage(channel=CHANNEL, text="card")

    reply = fake_slack_client.chat_getPermalink(
        channel=CHANNEL, message_ts=posted["ts"]
    )

    assert reply["permalink"].endswith(
        f"/archives/{CHANNEL}/p{posted['ts'].replace('.', '')}"
    )


# -- Web API: limits -----------------------------------------------------------

BLOCK_LIMIT_CASES = [
    pytest.param({"blocks": [section("x")] * 50}, None, id="50-blocks"),
    pytest.param({"blocks": [section("x")] * 51}, "invalid_blocks", id="51-blocks"),
    pytest.param({"blocks": [section("x" * 3000)]}, None, id="section-3000"),
    pytest.param(
        {"blocks": [section("x" * 3001)]}, "invalid_blocks", id="section-3001"
    ),
    pytest.param(
        {
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": "x" * 150}}
            ]
        },
        None,
        id="header-150",
    ),
    pytest.param(
        {
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}
            ]
        },
        "invalid_blocks",
        id="header-151",
    ),
    pytest.param({"text": "x" * 40_000}, None, id="text-40000"),
    pytest.param({"text": "x" * 40_001}, "msg_too_long", id="text-40001"),
]


@pytest.mark.parametrize(("content", "expected_error"), BLOCK_LIMIT_CASES)
@pytest.mark.parametrize(
    "method", ["chat.postMessage", "chat.postEphemeral", "chat.update"]
)
def test_message_limits_enforced(
    fake_slack: FakeSlack,
    fake_slack_client: WebClient,
    method: str,
    content: dict[str, Any],
    expected_error: str | None,
) -> None:
    params: dict[str, Any] = {"channel": CHANNEL, "text": "fallback", **content}
    if method == "chat.update":
        params["ts"] = fake_slack_client.chat_postMessage(channel=CHANNEL, text="x")[
            "ts"
        ]
    if method == "chat.postEphemeral":
        params["user"] = "U0ALICE"

    if expected_error is None:
        assert fake_slack_client.api_call(method, json=params)["ok"]
    else:
        error = slack_error(lambda: fake_slack_client.api_call(method, json=params))
        assert error.response["error"] == expected_error


def test_invalid_blocks_names_pointer(fake_slack_client: WebClient) -> None:
    error = slack_error(
        lambda: fake_slack_client.chat_postMessage(
            channel=CHANNEL, text="x", blocks=[section("ok"), section("x" * 3001)]
        )
    )

    assert error.response["errors"] == [
        "must be less than 3001 characters [json-pointer:/blocks/1/text/text]"
    ]


def test_rate_limit_answers_429() -> None:
    with FakeSlack(rate_limit=RateLimit(per_second=1.0, burst=1)) as fake:
        client = WebClient(token=fake.bot_token, base_url=fake.api_url)
        client.chat_postMessage(channel=CHANNEL, text="first")

        error = slack_error(
            lambda: client.chat_postMessage(channel=CHANNEL, text="second")
        )
        other_channel = client.chat_postMessage(channel="C0GENERAL", text="elsewhere")

    assert error.response.status_code == 429
    assert error.response["error"] == "ratelimited"
    assert error.response.headers["Retry-After"] == "1"
    assert other_channel["ok"]


def test_rate_limit_can_be_disabled() -> None:
    with FakeSlack(rate_limit=None) as fake:
        client = WebClient(token=fake.bot_token, base_url=fake.api_url)

        for i in range(10):
            client.chat_postMessage(channel=CHANNEL, text=f"post {i}")

        assert len(fake.messages(CHANNEL)) == 10


# -- Web API: scripted faults ---------------------------------------------------


def test_scripted_429_carries_retry_after(
    fake_slack: FakeSlack, fake_slack_client: WebClient
) -> None:
    fake_slack.inject("chat.postMessage", Fault.rate_limited(retry_after=30))

    error = slack_error(
        lambda: fake_slack_client.chat_postMessage(channel=CHANNEL, text="x")
    )
    retried = fake_slack_client.chat_postMessage(channel=CHANNEL, text="x")

    assert error.response.status_code == 429
    assert error.response.headers["Retry-After"] == "30"
    assert retried["ok"]


def test_scripted_500s_consumed_in_order(
    fake_slack: FakeSlack, fake_slack_client: WebClient
) -> None:
    fake_slack.inject("chat.postMessage", Fault.server_error(), Fault.server_error(503))

    first = slack_error(
        lambda: fake_slack_client.chat_postMessage(channel=CHANNEL, text="x")
    )
    second = slack_error(
        lambda: fake_slack_client.chat_postMessage(channel=CHANNEL, text="x")
    )
    third = fake_slack_client.chat_postMessage(channel=CHANNEL, text="x")

    assert first.response.status_code == 500
    assert second.response.status_code == 503
    assert third["ok"]
    assert len(fake_slack.messages(CHANNEL)) == 1


def test_scripted_html_502(fake_slack: FakeSlack, fake_slack_client: WebClient) -> None:
    fake_slack.inject("chat.update", Fault(status=502, body="<html>Bad Gateway</html>"))

    error = slack_error(
        lambda: fake_slack_client.chat_update(channel=CHANNEL, ts="1.0", text="x")
    )

    assert error.response.status_code == 502
    assert fake_slack.calls("chat.update")[0].response == {
        "raw": "<html>Bad Gateway</html>"
    }


def test_scripted_slack_error(
    fake_slack: FakeSlack, fake_slack_client: WebClient
) -> None:
    fake_slack.inject(
        "files.completeUploadExternal", Fault.slack_error("channel_not_found")
    )

    error = slack_error(
        lambda: fake_slack_client.files_upload_v2(
            channel=CHANNEL, content="x", filename="x.txt"
        )
    )

    assert error.response["error"] == "channel_not_found"
    assert fake_slack.files() == []


def test_slow_reply_times_out_but_posts(fake_slack: FakeSlack) -> None:
    # WebClient annotates timeout as int, but urllib takes a float.
    timeout: Any = 0.2
    client = WebClient(
        token=fake_slack.bot_token, base_url=fake_slack.api_url, timeout=timeout
    )
    fake_slack.inject("chat.postMessage", Fault.slow(0.6))

    with pytest.raises(TimeoutError):
        client.chat_postMessage(channel=CHANNEL, text="late")

    fake_slack.wait_for_calls("chat.postMessage", timeout=5)
    assert [m.text for m in fake_slack.messages(CHANNEL)] == ["late"]


def test_late_success_hidden_until_visible(
    fake_slack: FakeSlack, fake_slack_client: WebClient
) -> None:
    now = [1_000.0]
    fake_slack.workspace.clock = lambda: now[0]
    fake_slack.inject(
        "chat.postMessage", Fault.late_success(visible_after=30, status=500)
    )

    error = slack_error(
        lambda: fake_slack_client.chat_postMessage(channel=CHANNEL, text="late")
    )
    before = fake_slack_client.conversations_history(channel=CHANNEL)["messages"]
    now[0] += 30
    after = fake_slack_client.conversations_history(channel=CHANNEL)["messages"]

    assert error.response.status_code == 500
    assert before == []
    assert [m["text"] for m in after] == ["late"]


def test_late_success_with_dropped_connection(fake_slack: FakeSlack) -> None:
    client = WebClient(
        token=fake_slack.bot_token, base_url=fake_slack.api_url, retry_handlers=[]
    )
    fake_slack.inject("chat.postMessage", Fault.late_success(drop=True))

    with pytest.raises(OSError):
        client.chat_postMessage(channel=CHANNEL, text="sent")

    assert [m.text for m in fake_slack.messages(CHANNEL)] == ["sent"]


def test_wait_for_calls_times_out(fake_slack: FakeSlack) -> None:
    with pytest.raises(TimeoutError, match="chat.update"):
        fake_slack.wait_for_calls("chat.update", timeout=0.05)


def test_wait_for_calls_wakes_on_arrival(
    fake_slack: FakeSlack, fake_slack_client: WebClient
) -> None:
    poster = threading.Thread(
        target=lambda: [
            fake_slack_client.chat_postMessage(channel=CHANNEL, text=str(i))
            for i in range(2)
        ]
    )
    poster.start()

    calls = fake_slack.wait_for_calls("chat.postMessage", count=2, timeout=5)
    poster.join()

    assert [c.params["text"] for c in calls] == ["0", "1"]


# -- Web API: files, users, conversations, views -------------------------------


def test_files_upload_v2_end_to_end(
    fake_slack: FakeSlack, fake_slack_client: WebClient
) -> None:
    parent = fake_slack_client.chat_postMessage(channel=CHANNEL, text="report")

    reply = fake_slack_client.files_upload_v2(
        channel=CHANNEL,
        content=b"\x89PNG fake chart",
        filename="chart.png",
        title="Runs by status",
        initial_comment="November report",
        thread_ts=parent["ts"],
    )

    [uploaded] = fake_slack.files()
    methods = [c.method for c in fake_slack.calls()][-3:]
    assert reply["file"]["id"] == uploaded.id
    assert uploaded.content == b"\x89PNG fake chart"
    assert uploaded.title == "Runs by status"
    assert uploaded.channels == [CHANNEL]
    assert uploaded.initial_comment == "November report"
    assert uploaded.thread_ts == parent["ts"]
    assert methods == [
        "files.getUploadURLExternal",
        UPLOAD_URL,
        "files.completeUploadExternal",
    ]


def test_upload_needs_bot_in_channel(
    fake_slack: FakeSlack, fake_slack_client: WebClient
) -> None:
    error = slack_error(
        lambda: fake_slack_client.files_upload_v2(
            channel="C0RANDOM", content="x", filename="x.txt"
        )
    )

    assert error.response["error"] == "not_in_channel"
    assert fake_slack.files() == []


def test_upload_after_bot_joins(
    fake_slack: FakeSlack, fake_slack_client: WebClient
) -> None:
    fake_slack.set_bot_membership("C0RANDOM", True)

    fake_slack_client.files_upload_v2(channel="C0RANDOM", content="x", filename="x.txt")

    assert [f.channels for f in fake_slack.files()] == [["C0RANDOM"]]


def test_users_info_includes_email(fake_slack_client: WebClient) -> None:
    user = fake_slack_client.users_info(user="U0ALICE")["user"]

    assert user["profile"]["email"] == "alice@example.com"


def test_lookup_by_email(fake_slack_client: WebClient) -> None:
    found = fake_slack_client.users_lookupByEmail(email="BOB@example.com")["user"]

    error = slack_error(
        lambda: fake_slack_client.users_lookupByEmail(email="x@example.com")
    )

    assert found["id"] == "U0BOB"
    assert error.response["error"] == "users_not_found"


def test_conversations_open_reuses_dm(fake_slack_client: WebClient) -> None:
    first = fake_slack_client.conversations_open(users="U0BOB")
    second = fake_slack_client.conversations_open(users="U0BOB")

    assert first["channel"]["id"].startswith("D")
    assert second["channel"]["id"] == first["channel"]["id"]
    assert second["already_open"]


def test_dm_post_without_membership(
    fake_slack: FakeSlack, fake_slack_client: WebClient
) -> None:
    dm = fake_slack_client.conversations_open(users="U0CAROL")["channel"]["id"]

    fake_slack_client.chat_postMessage(channel=dm, text="shared with you")

    assert [m.text for m in fake_slack.messages(dm)] == ["shared with you"]


def test_conversations_info_and_members(fake_slack_client: WebClient) -> None:
    info = fake_slack_client.conversations_info(channel=CHANNEL)["channel"]
    members = fake_slack_client.conversations_members(channel=CHANNEL)["members"]

    error = slack_error(
        lambda: fake_slack_client.conversations_info(channel="G0SECRET")
    )

    assert info["is_member"]
    assert "U0ALICE" in members
    assert error.response["error"] == "channel_not_found"


def test_added_channel_is_visible(
    fake_slack: FakeSlack, fake_slack_client: WebClient
) -> None:
    fake_slack.add_channel(Channel("C0NEW", "new-team", members={"U0EXPBOT"}))

    info = fake_slack_client.conversations_info(channel="C0NEW")["channel"]

    assert info["name"] == "new-team"


def modal(blocks: list[dict[str, Any]]) -> dict[str, Any]:
    title = {"type": "plain_text", "text": "Add note"}
    return {
        "type": "modal",
        "callback_id": "add_note",
        "title": title,
        "blocks": blocks,
    }


def test_views_open_with_minted_trigger(
    fake_slack: FakeSlack, fake_slack_client: WebClient
) -> None:
    trigger_id = fake_slack.mint_trigger_id()

    reply = fake_slack_client.views_open(
        trigger_id=trigger_id, view=modal([section("x")])
    )

    assert reply["view"]["callback_id"] == "add_note"
    assert reply["view"]["id"].startswith("V")


def test_views_open_expired_trigger(
    fake_slack: FakeSlack, fake_slack_client: WebClient
) -> None:
    fake_slack.workspace.trigger_ttl = -1.0
    trigger_id = fake_slack.mint_trigger_id()

    error = slack_error(
        lambda: fake_slack_client.views_open(trigger_id=trigger_id, view=modal([]))
    )

    assert error.response["error"] == "expired_trigger_id"


def test_views_open_rejects_101_blocks(fake_slack_client: WebClient) -> None:
    error = slack_error(
        lambda: fake_slack_client.views_open(
            trigger_id="1.2.3", view=modal([section("x")] * 101)
        )
    )

    assert error.response["error"] == "invalid_arguments"


def test_views_publish_and_hash_conflict(
    fake_slack: FakeSlack, fake_slack_client: WebClient
) -> None:
    home = {"type": "home", "blocks": [section("Recent experiments")]}
    first = fake_slack_client.views_publish(user_id="U0ALICE", view=home)

    error = slack_error(
        lambda: fake_slack_client.views_publish(
            user_id="U0ALICE", view=home, hash="stale"
        )
    )
    fake_slack_client.views_publish(
        user_id="U0ALICE", view=home, hash=first["view"]["hash"]
    )

    stored = fake_slack.home_view("U0ALICE")
    assert error.response["error"] == "hash_conflict"
    assert stored is not None
    assert stored.view["blocks"] == [section("Recent experiments")]


def test_views_update_by_view_id(fake_slack_client: WebClient) -> None:
    opened = fake_slack_client.views_open(
        trigger_id="1.2.3", view=modal([section("old")])
    )

    updated = fake_slack_client.views_update(
        view_id=opened["view"]["id"], view=modal([section("new")])
    )
    error = slack_error(
        lambda: fake_slack_client.views_update(view_id="V0NONE", view=modal([]))
    )

    assert updated["view"]["blocks"] == [section("new")]
    assert error.response["error"] == "not_found"


# -- response URLs ------------------------------------------------------------


def test_response_url_records_bodies(fake_slack: FakeSlack) -> None:
    url = fake_slack.mint_response_url(channel_id=CHANNEL, user_id="U0ALICE")

    WebhookClient(url).send(text="just for you")
    WebhookClient(url).send(text="for everyone", response_type="in_channel")

    bodies = fake_slack.responses(url)
    assert [b["text"] for b in bodies] == ["just for you", "for everyone"]
    assert [m.text for m in fake_slack.messages(CHANNEL)] == ["for everyone"]


def test_response_url_used_up(fake_slack: FakeSlack) -> None:
    url = fake_slack.mint_response_url()

    statuses = [WebhookClient(url).send(text=str(i)).status_code for i in range(6)]

    assert statuses == [200] * 5 + [404]


def test_unknown_response_url_404(fake_slack: FakeSlack) -> None:
    reply = WebhookClient(f"{fake_slack.base_url}response/unknown").send(text="x")

    assert reply.status_code == 404


# -- signing and Bolt over HTTP ---------------------------------------------------


def test_signature_matches_slack_sdk() -> None:
    body = slash_command_body(text="help", response_url="http://127.0.0.1:9/r")
    headers = sign_request("secret", body, timestamp=1_700_000_000)

    verifier = SignatureVerifier("secret", clock=_FixedClock(1_700_000_000))

    assert verifier.is_valid(
        body, headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"]
    )


class _FixedClock(Clock):
    def __init__(self, now: float) -> None:
        self._now = now

    def now(self) -> float:
        return self._now


def make_bolt_app(fake: FakeSlack) -> App:
    """Build a small Bolt app with one listener of each kind the bot uses."""
    client = WebClient(token=fake.bot_token, base_url=fake.api_url)
    app = App(
        client=client,
        signing_secret=fake.signing_secret,
        token_verification_enabled=False,
    )

    @app.command("/exp")
    def exp(ack: Any, respond: Any, command: dict[str, Any]) -> None:
        ack()
        respond(f"echo {command['text']}")

    @app.action("share")
    def share(ack: Any, body: dict[str, Any], client: WebClient) -> None:
        ack()
        value = body["actions"][0]["value"]
        client.chat_postMessage(channel=body["channel"]["id"], text=f"shared {value}")

    @app.view("add_note")
    def add_note(ack: Any, view: dict[str, Any]) -> None:
        note = view["state"]["values"]["note"]["text"]["value"]
        ack(response_action="errors", errors={"note": f"too short: {note}"})

    @app.event("app_home_opened")
    def home(event: dict[str, Any], client: WebClient) -> None:
        client.views_publish(user_id=event["user"], view={"type": "home", "blocks": []})

    return app


def signed_bolt_request(body: str, signing_secret: str) -> BoltRequest:
    headers: dict[str, str | Sequence[str]] = dict(sign_request(signing_secret, body))
    return BoltRequest(body=body, headers=headers)


def test_bolt_dispatch_accepts_signed_command(fake_slack: FakeSlack) -> None:
    app = make_bolt_app(fake_slack)
    url = fake_slack.mint_response_url(CHANNEL, "U0ALICE")
    body = slash_command_body(text="search tag:nlp", response_url=url)

    response = app.dispatch(signed_bolt_request(body, fake_slack.signing_secret))

    fake_slack.wait_for_calls(RESPONSE_URL)
    assert response.status == 200
    assert fake_slack.responses(url) == [{"text": "echo search tag:nlp"}]


def test_bolt_dispatch_rejects_bad_signature(fake_slack: FakeSlack) -> None:
    app = make_bolt_app(fake_slack)
    body = slash_command_body(text="help", response_url=fake_slack.mint_response_url())

    response = app.dispatch(signed_bolt_request(body, "wrong-secret"))

    assert response.status == 401


@pytest.fixture
def bolt_http_url(fake_slack: FakeSlack) -> Iterator[str]:
    """Serve `make_bolt_app` over WSGI on loopback and yield its events URL."""
    server = make_server(
        "127.0.0.1",
        0,
        SlackRequestHandler(make_bolt_app(fake_slack)),
        server_class=WSGIServer,
        handler_class=_QuietHandler,
    )
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}
    )
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/slack/events"
    server.shutdown()
    server.server_close()
    thread.join()


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_http_slash_command_responds(fake_slack: FakeSlack, bolt_http_url: str) -> None:
    url = fake_slack.mint_response_url(CHANNEL, "U0ALICE")
    body = slash_command_body(text="help", response_url=url)

    reply = post_signed(bolt_http_url, body, fake_slack.signing_secret)

    fake_slack.wait_for_calls(RESPONSE_URL)
    assert reply.status == 200
    assert fake_slack.responses(url) == [{"text": "echo help"}]


def test_http_block_action_posts(fake_slack: FakeSlack, bolt_http_url: str) -> None:
    body = block_action_body(action_id="share", value="3f2a9c")

    reply = post_signed(bolt_http_url, body, fake_slack.signing_secret)

    fake_slack.wait_for_calls("chat.postMessage")
    assert reply.status == 200
    assert [m.text for m in fake_slack.messages(CHANNEL)] == ["shared 3f2a9c"]


def test_http_view_submission_errors(fake_slack: FakeSlack, bolt_http_url: str) -> None:
    values = {"note": {"text": {"type": "plain_text_input", "value": "hi"}}}
    body = view_submission_body(callback_id="add_note", values=values)

    reply = post_signed(bolt_http_url, body, fake_slack.signing_secret)

    assert reply.status == 200
    assert '"response_action": "errors"' in reply.body


def test_http_app_home_opened(fake_slack: FakeSlack, bolt_http_url: str) -> None:
    body = event_callback_body(app_home_opened_event("U0BOB"))

    reply = post_signed(
        bolt_http_url, body, fake_slack.signing_secret, content_type=JSON_CONTENT_TYPE
    )

    fake_slack.wait_for_calls("views.publish")
    assert reply.status == 200
    assert fake_slack.home_view("U0BOB") is not None


def test_http_stale_timestamp_rejected(
    fake_slack: FakeSlack, bolt_http_url: str
) -> None:
    body = slash_command_body(text="help", response_url=fake_slack.mint_response_url())

    reply = post_signed(
        bolt_http_url, body, fake_slack.signing_secret, timestamp=1_000_000
    )

    assert reply.status == 401


# -- Socket Mode --------------------------------------------------------------


@pytest.fixture
def socket_handler(
    fake_slack: FakeSlack, fake_socket_mode: SocketModeFake
) -> Iterator[SocketModeHandler]:
    handler = SocketModeHandler(
        make_bolt_app(fake_slack), app_token=fake_slack.app_token
    )
    handler.connect()
    yield handler
    handler.close()


def test_socket_command_acked_and_responded(
    fake_slack: FakeSlack,
    fake_socket_mode: SocketModeFake,
    socket_handler: SocketModeHandler,
) -> None:
    url = fake_slack.mint_response_url(CHANNEL, "U0ALICE")

    envelope_id = fake_socket_mode.send_envelope(
        "slash_commands", slash_command_payload(text="summary", response_url=url)
    )

    ack = fake_socket_mode.wait_for_ack(envelope_id)
    fake_slack.wait_for_calls(RESPONSE_URL)
    assert ack.envelope_id == envelope_id
    assert fake_slack.responses(url) == [{"text": "echo summary"}]


def test_socket_connection_uses_app_token(
    fake_slack: FakeSlack,
    fake_socket_mode: SocketModeFake,
    socket_handler: SocketModeHandler,
) -> None:
    fake_socket_mode.wait_for_connection()

    [call] = fake_slack.calls("apps.connections.open")

    assert call.headers["Authorization"] == f"Bearer {fake_slack.app_token}"
    assert call.ok


def test_socket_interactive_action_acked(
    fake_slack: FakeSlack,
    fake_socket_mode: SocketModeFake,
    socket_handler: SocketModeHandler,
) -> None:
    envelope_id = fake_socket_mode.send_envelope(
        "interactive", block_action_payload(action_id="share", value="abc123")
    )

    fake_socket_mode.wait_for_ack(envelope_id)
    fake_slack.wait_for_calls("chat.postMessage")
    assert [m.text for m in fake_slack.messages(CHANNEL)] == ["shared abc123"]


def test_socket_view_submission_ack_payload(
    fake_socket_mode: SocketModeFake, socket_handler: SocketModeHandler
) -> None:
    values = {"note": {"text": {"type": "plain_text_input", "value": "ok"}}}

    envelope_id = fake_socket_mode.send_envelope(
        "interactive", view_submission_payload(callback_id="add_note", values=values)
    )

    ack = fake_socket_mode.wait_for_ack(envelope_id)
    assert ack.payload == {
        "response_action": "errors",
        "errors": {"note": "too short: ok"},
    }


def test_socket_event_publishes_home(
    fake_slack: FakeSlack,
    fake_socket_mode: SocketModeFake,
    socket_handler: SocketModeHandler,
) -> None:
    envelope_id = fake_socket_mode.send_envelope(
        "events_api", event_callback_payload(app_home_opened_event("U0CAROL"))
    )

    fake_socket_mode.wait_for_ack(envelope_id)
    fake_slack.wait_for_calls("views.publish")
    assert fake_slack.home_view("U0CAROL") is not None


def test_socket_disconnect_reconnects(
    fake_slack: FakeSlack,
    fake_socket_mode: SocketModeFake,
    socket_handler: SocketModeHandler,
) -> None:
    fake_socket_mode.send_disconnect()

    fake_socket_mode.wait_for_connection(count=2)
    envelope_id = fake_socket_mode.send_envelope(
        "slash_commands",
        slash_command_payload(text="help", response_url=fake_slack.mint_response_url()),
    )

    assert fake_socket_mode.wait_for_ack(envelope_id).envelope_id == envelope_id
    assert len(fake_slack.calls("apps.connections.open")) == 2


def test_socket_rejects_unknown_ticket(fake_socket_mode: SocketModeFake) -> None:
    url = fake_socket_mode.mint_url().replace("ticket=", "ticket=forged")

    with pytest.raises(InvalidStatus) as caught:
        connect(url, open_timeout=5).close()

    assert caught.value.response.status_code == 403


def test_connections_open_needs_app_token(fake_slack_client: WebClient) -> None:
    error = slack_error(
        lambda: fake_slack_client.apps_connections_open(
            app_token=fake_slack_client.token or ""
        )
    )

    assert error.response["error"] == "not_allowed_token_type"
