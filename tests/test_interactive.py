"""Buttons, modal submissions and App Home, through a real Bolt app.

Requests are signed as Slack signs them and dispatched to a Bolt `App`
whose WebClient talks to the fake Slack Web API on loopback, so every
modal, message and Home tab passes the fake's Block Kit checks.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from slack_bolt import App
from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk import WebClient

from bot import interactive
from bot.settings import Settings
from bot.views import (
    ACTION_ADD_NOTE,
    ACTION_MORE,
    ACTION_SHARE,
    ACTION_SHOW,
    ACTION_SHOW_CONFIG,
    CALLBACK_NOTE,
    CALLBACK_SHARE,
    more_value,
    note_modal,
    share_modal,
)
from bot.views.modals import NOTE_BLOCK, NOTE_INPUT, SHARE_BLOCK, SHARE_INPUT
from tests.fakeslack import RESPONSE_URL, FakeSlack
from tests.fakeslack.payloads import (
    app_home_opened_event,
    block_action_body,
    block_action_payload,
    event_callback_body,
    view_submission_body,
)
from tests.fakeslack.signing import JSON_CONTENT_TYPE, signed_headers
from tracker import Tracker, people
from tracker.records import ExperimentRecord

CHANNEL = "C0MLTEAM"
NAMES = {"U0ALICE": "alice", "U0BOB": "bob", "U0CAROL": "carol"}
ADMIN = "U0CAROL"


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack(rate_limit=None) as server:
        yield server


@pytest.fixture
def settings(fake: FakeSlack) -> Settings:
    return Settings(
        bot_token=fake.bot_token,
        signing_secret=fake.signing_secret,
        api_url=fake.api_url,
        admins=frozenset({ADMIN}),
    )


@pytest.fixture
def client(fake: FakeSlack) -> WebClient:
    return WebClient(token=fake.bot_token, base_url=fake.api_url, timeout=10)


@pytest.fixture
def app(
    fake: FakeSlack, client: WebClient, sqlite_tracker: Tracker, settings: Settings
) -> App:
    bolt = App(
        client=client,
        signing_secret=fake.signing_secret,
        token_verification_enabled=False,
        process_before_response=False,
    )
    interactive.register(bolt, sqlite_tracker, settings)
    return bolt


@pytest.fixture
def experiment(sqlite_tracker: Tracker) -> ExperimentRecord:
    # With her email on record, U0ALICE is linked to `alice` on first sight.
    people.add_person(sqlite_tracker, "alice", email="alice@example.com")
    return sqlite_tracker.track(
        "bert lr=3e-5",
        researcher="alice",
        team="nlp",
        project="mt",
        config={"lr": 3e-5, "trainer": {"devices": 8}},
        capture=False,
    )


def dispatch(app: App, fake: FakeSlack, body: str, content_type: str | None = None):
    headers = signed_headers(fake.signing_secret, body)
    if content_type is not None:
        headers = signed_headers(fake.signing_secret, body, content_type)
    return app.dispatch(BoltRequest(body=body, headers=headers))


def click(
    app: App,
    fake: FakeSlack,
    action_id: str,
    value: str,
    *,
    user_id: str = "U0ALICE",
    **fields: Any,
) -> BoltResponse:
    body = block_action_body(
        action_id=action_id,
        value=value,
        user_id=user_id,
        user_name=NAMES[user_id],
        trigger_id=fake.mint_trigger_id(),
        **fields,
    )
    return dispatch(app, fake, body)


def submit(
    app: App,
    fake: FakeSlack,
    callback_id: str,
    metadata: str,
    values: dict[str, Any],
    *,
    user_id: str = "U0ALICE",
) -> BoltResponse:
    body = view_submission_body(
        callback_id=callback_id,
        values=values,
        private_metadata=metadata,
        user_id=user_id,
        user_name=NAMES[user_id],
    )
    return dispatch(app, fake, body)


def view_param(call: Any) -> dict[str, Any]:
    view = call.params["view"]
    return json.loads(view) if isinstance(view, str) else view


def view_text(view: dict[str, Any]) -> str:
    parts = []
    for block in view["blocks"]:
        text = block.get("text")
        if isinstance(text, dict):
            parts.append(text["text"])
        for element in block.get("elements") or []:
            if isinstance(element, dict) and "text" in element:
                inner = element["text"]
                parts.append(inner["text"] if isinstance(inner, dict) else inner)
    return "\n".join(parts)


def share_values(*user_ids: str) -> dict[str, Any]:
    state = {"type": "multi_users_select", "selected_users": list(user_ids)}
    return {SHARE_BLOCK: {SHARE_INPUT: state}}


def note_values(text: str) -> dict[str, Any]:
    return {NOTE_BLOCK: {NOTE_INPUT: {"type": "plain_text_input", "value": text}}}


def slack_methods(fake: FakeSlack) -> list[str]:
    return [c.method for c in fake.calls() if c.method != "auth.test"]


# -- buttons that open modals ------------------------------------------------


def test_share_button_opens_modal_first(
    app: App, fake: FakeSlack, experiment: ExperimentRecord
) -> None:
    response = click(app, fake, ACTION_SHARE, experiment.id)

    fake.wait_for_calls("views.update")
    assert response.status == 200
    assert slack_methods(fake)[0] == "views.open"


def test_share_button_fills_in_name(
    app: App, fake: FakeSlack, experiment: ExperimentRecord
) -> None:
    click(app, fake, ACTION_SHARE, experiment.id)

    update = fake.wait_for_calls("views.update", ok=True)[0]
    view = view_param(update)

    assert view["callback_id"] == CALLBACK_SHARE
    assert "*bert lr=3e-5*" in view_text(view)
    assert json.loads(view["private_metadata"])["channel"] == CHANNEL


def test_share_button_for_stranger_explains(
    app: App, fake: FakeSlack, experiment: ExperimentRecord
) -> None:
    click(app, fake, ACTION_SHARE, experiment.id, user_id="U0BOB")

    view = view_param(fake.wait_for_calls("views.update", ok=True)[0])

    assert "submit" not in view
    assert "Only alice, the collaborators or an admin" in view_text(view)


def test_share_button_unknown_experiment(app: App, fake: FakeSlack) -> None:
    click(app, fake, ACTION_SHARE, "deadbeef0000")

    view = view_param(fake.wait_for_calls("views.update", ok=True)[0])

    assert "No experiment `deadbeef0000`" in view_text(view)


def test_add_note_button_opens_note_modal(
    app: App, fake: FakeSlack, experiment: ExperimentRecord
) -> None:
    click(app, fake, ACTION_ADD_NOTE, experiment.id)

    opened = view_param(fake.wait_for_calls("views.open")[0])
    updated = view_param(fake.wait_for_calls("views.update", ok=True)[0])

    assert opened["callback_id"] == CALLBACK_NOTE
    assert updated["callback_id"] == CALLBACK_NOTE
    assert "*bert lr=3e-5*" in view_text(updated)


def test_show_config_opens_config(
    app: App, fake: FakeSlack, experiment: ExperimentRecord
) -> None:
    click(app, fake, ACTION_SHOW_CONFIG, experiment.id, user_id="U0BOB")

    opened = view_param(fake.wait_for_calls("views.open")[0])
    updated = view_param(fake.wait_for_calls("views.update", ok=True)[0])

    assert "Loading" in view_text(opened)
    assert "trainer.devices: 8" in view_text(updated)


def test_show_card_for_reader_hides_changes(
    app: App, fake: FakeSlack, experiment: ExperimentRecord
) -> None:
    click(app, fake, ACTION_SHOW, experiment.id, user_id="U0BOB")

    view = view_param(fake.wait_for_calls("views.update", ok=True)[0])
    actions = [b for b in view["blocks"] if b["type"] == "actions"][0]

    assert view["blocks"][0]["text"]["text"] == "bert lr=3e-5"
    assert [e["action_id"] for e in actions["elements"]] == [ACTION_SHOW_CONFIG]


def test_show_private_experiment_hidden(
    app: App, fake: FakeSlack, sqlite_tracker: Tracker
) -> None:
    secret = sqlite_tracker.track(
        "secret", researcher="alice", visibility="private", capture=False
    )

    click(app, fake, ACTION_SHOW, secret.id, user_id="U0BOB")
    view = view_param(fake.wait_for_calls("views.update", ok=True)[0])

    assert f"No experiment `{secret.id}`" in view_text(view)


def test_button_in_modal_pushes_view(
    app: App, fake: FakeSlack, experiment: ExperimentRecord
) -> None:
    modal = {"id": "V0CARD", "type": "modal", "callback_id": "expbot.info"}

    click(app, fake, ACTION_SHOW_CONFIG, experiment.id, view=modal)

    fake.wait_for_calls("views.update", ok=True)
    assert "views.push" in slack_methods(fake)
    assert "views.open" not in slack_methods(fake)


def test_expired_trigger_skips_work(
    fake: FakeSlack,
    client: WebClient,
    sqlite_tracker: Tracker,
    settings: Settings,
    experiment: ExperimentRecord,
) -> None:
    # The listener is called directly, so it has finished when the call returns.
    listeners = interactive.Interactions(sqlite_tracker, settings)
    fake.workspace.trigger_ttl = -1.0
    acks: list[Any] = []
    body = block_action_payload(
        action_id=ACTION_SHARE,
        value=experiment.id,
        trigger_id=fake.mint_trigger_id(),
    )

    listeners.open_share(ack=lambda **kw: acks.append(kw), body=body, client=client)

    assert len(acks) == 1
    assert fake.calls("views.open")[0].error == "expired_trigger_id"
    assert slack_methods(fake) == ["views.open"]


# -- modal submissions -------------------------------------------------------


def test_share_submission_adds_collaborator(
    app: App, fake: FakeSlack, sqlite_tracker: Tracker, experiment: ExperimentRecord
) -> None:
    metadata = share_modal(experiment.id, channel_id=CHANNEL).private_metadata or ""

    response = submit(app, fake, CALLBACK_SHARE, metadata, share_values("U0BOB"))

    fake.wait_for_calls("chat.postEphemeral", ok=True)
    assert response.status == 200
    assert response.body == ""
    assert sqlite_tracker.get(experiment.id).collaborators == ("bob",)


def test_share_submission_confirms_in_channel(
    app: App, fake: FakeSlack, experiment: ExperimentRecord
) -> None:
    metadata = share_modal(experiment.id, channel_id=CHANNEL).private_metadata or ""

    submit(app, fake, CALLBACK_SHARE, metadata, share_values("U0BOB", "U0CAROL"))

    call = fake.wait_for_calls("chat.postEphemeral", ok=True)[0]
    assert call.params["channel"] == CHANNEL
    assert call.params["user"] == "U0ALICE"
    assert "with bob, carol" in call.params["text"]


def test_share_submission_from_home_sends_dm(
    app: App, fake: FakeSlack, experiment: ExperimentRecord
) -> None:
    metadata = share_modal(experiment.id).private_metadata or ""

    submit(app, fake, CALLBACK_SHARE, metadata, share_values("U0BOB"))

    call = fake.wait_for_calls("chat.postMessage", ok=True)[0]
    assert call.params["channel"] == "U0ALICE"


def test_share_confirmation_falls_back_to_dm(
    app: App, fake: FakeSlack, experiment: ExperimentRecord
) -> None:
    # The bot is not in the private #secret-project, so it cannot post there.
    metadata = share_modal(experiment.id, channel_id="G0SECRET").private_metadata

    submit(app, fake, CALLBACK_SHARE, metadata or "", share_values("U0BOB"))

    call = fake.wait_for_calls("chat.postMessage", ok=True)[0]
    assert fake.calls("chat.postEphemeral")[0].error == "channel_not_found"
    assert call.params["channel"] == "U0ALICE"


def test_share_submission_by_stranger_errors(
    app: App, fake: FakeSlack, sqlite_tracker: Tracker, experiment: ExperimentRecord
) -> None:
    metadata = share_modal(experiment.id).private_metadata or ""

    response = submit(
        app, fake, CALLBACK_SHARE, metadata, share_values("U0CAROL"), user_id="U0BOB"
    )
    body = json.loads(response.body)

    assert body["response_action"] == "errors"
    assert body["errors"][SHARE_BLOCK].startswith("Only alice, the collaborators")
    assert len(body["errors"][SHARE_BLOCK]) <= 150
    assert sqlite_tracker.get(experiment.id).collaborators == ()


def test_share_submission_by_admin_works(
    app: App, fake: FakeSlack, sqlite_tracker: Tracker, experiment: ExperimentRecord
) -> None:
    metadata = share_modal(experiment.id).private_metadata or ""

    response = submit(
        app, fake, CALLBACK_SHARE, metadata, share_values("U0BOB"), user_id=ADMIN
    )

    fake.wait_for_calls("chat.postMessage", ok=True)
    assert response.body == ""
    assert sqlite_tracker.get(experiment.id).collaborators == ("bob",)


def test_share_submission_nothing_new(
    app: App, fake: FakeSlack, experiment: ExperimentRecord
) -> None:
    metadata = share_modal(experiment.id, channel_id=CHANNEL).private_metadata or ""

    submit(app, fake, CALLBACK_SHARE, metadata, share_values("U0ALICE"))

    call = fake.wait_for_calls("chat.postEphemeral", ok=True)[0]
    assert "nothing changed" in call.params["text"]


def test_note_submission_adds_note(
    app: App, fake: FakeSlack, sqlite_tracker: Tracker, experiment: ExperimentRecord
) -> None:
    metadata = note_modal(experiment.id, channel_id=CHANNEL).private_metadata or ""

    response = submit(
        app, fake, CALLBACK_NOTE, metadata, note_values("Loss plateaus at 2k steps.")
    )

    fake.wait_for_calls("chat.postEphemeral", ok=True)
    notes = sqlite_tracker.get(experiment.id).notes
    assert response.body == ""
    assert [(n.author, n.text) for n in notes] == [
        ("alice", "Loss plateaus at 2k steps.")
    ]


def test_note_submission_empty_text_errors(
    app: App, fake: FakeSlack, experiment: ExperimentRecord
) -> None:
    metadata = note_modal(experiment.id).private_metadata or ""

    response = submit(app, fake, CALLBACK_NOTE, metadata, note_values("   "))
    body = json.loads(response.body)

    assert body["response_action"] == "errors"
    assert body["errors"][NOTE_BLOCK].startswith("The note is empty")


def test_note_submission_lost_metadata_errors(app: App, fake: FakeSlack) -> None:
    response = submit(app, fake, CALLBACK_NOTE, "", note_values("text"))
    body = json.loads(response.body)

    assert "lost its experiment id" in body["errors"][NOTE_BLOCK]


# -- paging and App Home -----------------------------------------------------


def test_more_button_posts_next_page(
    app: App, fake: FakeSlack, sqlite_tracker: Tracker
) -> None:
    for i in range(25):
        sqlite_tracker.track(f"sweep-{i}", tags=["sweep"], capture=False)
    url = fake.mint_response_url(CHANNEL, "U0ALICE")
    value = more_value("tag:sweep", 20, 20) or ""

    click(app, fake, ACTION_MORE, value, response_url=url)

    fake.wait_for_calls(RESPONSE_URL)
    posted = fake.responses(url)
    assert len(posted) == 1
    blocks = posted[0]["blocks"]
    assert (
        blocks[0]["text"]["text"]
        == "*25 experiments* match `tag:sweep` · showing 21–25"
    )
    assert sum(1 for b in blocks if b.get("accessory")) == 5
    assert posted[0]["replace_original"] is False


def test_more_button_bad_value_explains(app: App, fake: FakeSlack) -> None:
    url = fake.mint_response_url(CHANNEL, "U0ALICE")

    click(app, fake, ACTION_MORE, "garbage", response_url=url)

    fake.wait_for_calls(RESPONSE_URL)
    assert "This Next button is broken" in fake.responses(url)[0]["text"]


def test_app_home_opened_publishes_home(
    app: App, fake: FakeSlack, experiment: ExperimentRecord
) -> None:
    body = event_callback_body(app_home_opened_event("U0ALICE"))

    dispatch(app, fake, body, JSON_CONTENT_TYPE)

    fake.wait_for_calls("views.publish", ok=True)
    home = fake.home_view("U0ALICE")
    assert home is not None
    text = view_text(home.view)
    assert "Signed in as *alice*" in text
    assert "*bert lr=3e-5*" in text
    assert "Summary: all teams" in text


def test_app_home_messages_tab_ignored(
    fake: FakeSlack, client: WebClient, sqlite_tracker: Tracker, settings: Settings
) -> None:
    listeners = interactive.Interactions(sqlite_tracker, settings)

    listeners.publish_home(
        event=app_home_opened_event("U0ALICE", tab="messages"), client=client
    )

    assert slack_methods(fake) == []
