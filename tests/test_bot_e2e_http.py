"""End to end: the real `expbot serve --http` against the fake Slack.

One server subprocess serves the whole module on a free loopback port; the
fake Slack Web API runs in this process. Every request is signed with the
signing secret, as Slack signs it, and each reply is read where Slack would
receive it: the response_url.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.commands.base import COMMANDS
from bot.router import ACTION_POST_TO_CHANNEL
from tests.bot_server import (
    BotProcess,
    SlackSender,
    reply_text,
    serve_http,
)
from tests.fakeslack import FakeSlack
from tests.fakeslack.payloads import (
    app_home_opened_event,
    event_callback_body,
    slash_command_body,
    url_verification_body,
)
from tests.fakeslack.signing import JSON_CONTENT_TYPE, post_signed
from tracker import Tracker, people
from tracker.records import ExperimentRecord

ADMIN = "U0CAROL"
ACK_LIMIT_SECONDS = 3.0


@pytest.fixture(scope="module")
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(rate_limit=None) as fake:
        yield fake


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("expbot-home")


@pytest.fixture(scope="module")
def sender(slack: FakeSlack, home: Path) -> Iterator[SlackSender]:
    with serve_http(slack, home, EXPBOT_ADMINS=ADMIN) as sender:
        yield sender


@pytest.fixture(scope="module")
def server(sender: SlackSender) -> BotProcess:
    assert sender.process is not None
    return sender.process


@pytest.fixture(scope="module")
def store(home: Path, sender: SlackSender) -> Iterator[Tracker]:
    """The server's database, opened by the test to seed and check it."""
    tracker = Tracker(f"sqlite:///{home / 'expbot.db'}")
    # `alice` records experiments from the CLI, so only a link makes U0ALICE
    # her; a first command would get U0ALICE a handle of her own.
    people.link_slack_user(tracker, "alice", "U0ALICE", email="alice@example.com")
    yield tracker
    tracker.close()


@pytest.fixture(scope="module")
def runs(store: Tracker) -> dict[str, ExperimentRecord]:
    """Experiments of alice's: two completed, one private, one failed."""
    first = store.track(
        "e2e-bert-base",
        config={"lr": 0.001},
        tags=["e2e"],
        researcher="alice",
        project="mt",
        capture=False,
    )
    store.complete(first.id, {"accuracy": 0.91})
    second = store.track(
        "e2e-bert-large",
        config={"lr": 0.0003},
        tags=["e2e"],
        researcher="alice",
        project="mt",
        capture=False,
    )
    store.complete(second.id, {"accuracy": 0.94})
    secret = store.track(
        "e2e-secret-idea",
        tags=["e2e"],
        researcher="alice",
        visibility="private",
        capture=False,
    )
    broken = store.track("e2e-diverged", researcher="alice", capture=False)
    store.fail(broken.id, "loss became NaN at step 1200")
    return {
        "first": store.get(first.id),
        "second": store.get(second.id),
        "secret": store.get(secret.id),
        "broken": store.get(broken.id),
    }


# -- the HTTP endpoint -------------------------------------------------------


def test_healthz_reports_database_ok(sender: SlackSender) -> None:
    url = sender.url("/healthz")
    with urllib.request.urlopen(url, timeout=5) as response:
        status = response.status
        body = json.loads(response.read())
    assert status == 200
    assert body == {"ok": True, "database": "ok"}


def test_forged_signature_is_rejected(sender: SlackSender, slack: FakeSlack) -> None:
    response_url = slack.mint_response_url("C0MLTEAM", "U0ALICE")
    body = slash_command_body(text="help", response_url=response_url)
    reply = post_signed(sender.events_url, body, "not-the-signing-secret")
    assert reply.status == 401
    assert slack.responses(response_url) == []


def test_stale_timestamp_is_rejected(sender: SlackSender, slack: FakeSlack) -> None:
    response_url = slack.mint_response_url("C0MLTEAM", "U0ALICE")
    body = slash_command_body(text="help", response_url=response_url)
    stale = int(time.time()) - 10 * 60
    reply = post_signed(sender.events_url, body, slack.signing_secret, timestamp=stale)
    assert reply.status == 401


def test_ack_is_fast_and_empty(sender: SlackSender) -> None:
    exchange = sender.command("search e2e")
    assert exchange.ack.status == 200
    assert exchange.ack.body == ""
    assert exchange.seconds < ACK_LIMIT_SECONDS


# -- every subcommand: happy path and bad input ------------------------------


def test_help_lists_every_subcommand(sender: SlackSender) -> None:
    text = sender.run("help")
    for name in ("search", "show", "share", "note", "tag", "link", "metric"):
        assert f"/exp {name}" in text


def test_help_search_explains_grammar(sender: SlackSender) -> None:
    text = sender.run("help search")
    assert "since:7d" in text
    assert "accuracy&gt;0.9" in text


def test_help_unknown_command_is_refused(sender: SlackSender) -> None:
    assert "No subcommand `nosuch`" in sender.run("help nosuch")


def test_unknown_subcommand_points_to_help(sender: SlackSender) -> None:
    text = sender.run("serch e2e")
    assert "Unknown subcommand `serch`" in text
    assert "/exp search" in text
    assert "/exp help" in text


def test_search_finds_seeded_runs(sender: SlackSender, runs) -> None:
    text = sender.run("search tag:e2e accuracy&gt;0.9")
    assert runs["first"].short_id in text
    assert runs["second"].short_id in text
    assert runs["broken"].short_id not in text


def test_search_bad_query_names_position(sender: SlackSender) -> None:
    text = sender.run("search accuracy&gt;&gt;1")
    assert "Invalid query at position" in text
    assert "/exp help search" in text


def test_search_by_mention_uses_handle(sender: SlackSender, runs) -> None:
    text = sender.run("search by:<@U0ALICE|alice> tag:e2e")
    assert runs["first"].short_id in text


def test_show_renders_card(sender: SlackSender, runs) -> None:
    text = sender.run(f"show {runs['first'].short_id}")
    assert "e2e-bert-base" in text
    assert "accuracy" in text


def test_show_unknown_id_names_it(sender: SlackSender) -> None:
    text = sender.run("show abcdef")
    assert "No experiment `abcdef`" in text


def test_show_private_hidden_from_others(sender: SlackSender, runs) -> None:
    text = sender.run(f"show {runs['secret'].short_id}", user_id="U0BOB")
    assert "No experiment" in text
    assert "e2e-secret-idea" not in text


def test_share_mention_adds_collaborator(
    sender: SlackSender, runs, store: Tracker
) -> None:
    text = sender.run(f"share {runs['broken'].short_id} <@U0BOB|bob>")
    assert "Shared" in text
    assert "bob" in store.get(runs["broken"].id).collaborators


def test_share_without_users_shows_usage(sender: SlackSender, runs) -> None:
    text = sender.run(f"share {runs['first'].short_id}")
    assert "Usage: `/exp share ID @user...`" in text


def test_note_is_stored(sender: SlackSender, runs, store: Tracker) -> None:
    text = sender.run(f"note {runs['first'].short_id} warmup &lt;3 helps")
    assert "Added a note" in text
    assert "warmup &lt;3 helps" in text
    notes = [note.text for note in store.get(runs["first"].id).notes]
    assert "warmup <3 helps" in notes


def test_note_without_text_is_refused(sender: SlackSender, runs) -> None:
    text = sender.run(f"note {runs['first'].short_id}")
    assert "The note is empty" in text


def test_tag_adds_and_removes(sender: SlackSender, runs, store: Tracker) -> None:
    text = sender.run(f"tag {runs['second'].short_id} +best -e2e")
    assert "Tags of" in text
    assert store.get(runs["second"].id).tags == ("best",)


def test_tag_without_changes_shows_usage(sender: SlackSender, runs) -> None:
    text = sender.run(f"tag {runs['first'].short_id}")
    assert "Usage: `/exp tag ID +a -b`" in text


def test_tag_by_stranger_is_refused(sender: SlackSender, runs) -> None:
    text = sender.run(f"tag {runs['first'].short_id} +mine", user_id="U0BOB")
    assert ":no_entry:" in text
    assert "Only alice" in text


def test_admin_may_tag_others_runs(sender: SlackSender, runs, store: Tracker) -> None:
    text = sender.run(f"tag {runs['first'].short_id} +audited", user_id=ADMIN)
    assert "Tags of" in text
    assert "audited" in store.get(runs["first"].id).tags


def test_compare_two_runs(sender: SlackSender, runs) -> None:
    first, second = runs["first"].short_id, runs["second"].short_id
    text = sender.run(f"compare {first} {second}")
    assert "Comparing 2 experiments" in text
    assert "lr" in text


def test_compare_one_id_is_refused(sender: SlackSender, runs) -> None:
    text = sender.run(f"compare {runs['first'].short_id}")
    assert "Give 2 to 10 different experiment ids" in text


def test_leaderboard_ranks_best_first(sender: SlackSender, runs) -> None:
    text = sender.run("leaderboard accuracy project:mt")
    assert text.index(runs["second"].short_id) < text.index(runs["first"].short_id)


def test_leaderboard_without_metric_shows_usage(sender: SlackSender) -> None:
    text = sender.run("leaderboard")
    assert "Name the metric" in text


def test_summary_counts_statuses(sender: SlackSender, runs) -> None:
    text = sender.run("summary all")
    assert "Summary" in text
    assert "Failed" in text


def test_summary_bad_argument_is_refused(sender: SlackSender) -> None:
    text = sender.run("summary sideways")
    assert "Unexpected 'sideways'" in text


def test_metric_sets_direction(sender: SlackSender, store: Tracker) -> None:
    text = sender.run("metric e2e_score min goal:0.5")
    assert "minimized" in text
    assert store.directions()("e2e_score") == "min"


def test_metric_bad_direction_is_refused(sender: SlackSender) -> None:
    text = sender.run("metric e2e_score sideways")
    assert "Invalid direction 'sideways'" in text


def test_link_sets_handle_and_team(sender: SlackSender, store: Tracker) -> None:
    text = sender.run("link dana team:speech", user_id="U0BOB")
    assert "You are now `dana`" in text
    person = people.by_slack_id(store, "U0BOB")
    assert person is not None
    assert (person.handle, person.team) == ("dana", "speech")
    # `bob` kept no email when U0BOB left it, so only an admin moves him back.
    text = sender.run("link bob <@U0BOB|bob>", user_id=ADMIN)
    assert "<@U0BOB> is now `bob`" in text


def test_link_taken_handle_is_refused(sender: SlackSender) -> None:
    sender.run("help", user_id=ADMIN)
    text = sender.run("link carol", user_id="U0BOB")
    assert "linked to another Slack user" in text


# -- behaviour across commands -----------------------------------------------


def test_first_command_links_by_email(sender: SlackSender, store: Tracker) -> None:
    sender.run("help", user_id=ADMIN)
    person = people.by_slack_id(store, ADMIN)
    assert person is not None
    assert person.handle == "carol"
    assert person.email == "carol@example.com"


def test_retried_command_acts_once(
    sender: SlackSender, server: BotProcess, runs, store: Tracker
) -> None:
    text = f"note {runs['second'].short_id} noted exactly once"
    trigger_id = "1700000000.0EXPBOT.retried-command"
    first = sender.command(text, trigger_id=trigger_id)
    retry = sender.command(text, trigger_id=trigger_id, retry_num=1)
    assert retry.ack.status == 200
    server.wait_for_log(f"dropped repeated request command:{trigger_id}")
    sender.reply(first)
    notes = [n.text for n in store.get(runs["second"].id).notes]
    assert notes.count("noted exactly once") == 1
    assert sender.fake.responses(retry.response_url) == []


def test_url_verification_echoes_challenge(sender: SlackSender) -> None:
    body = url_verification_body("challenge-3f2a")
    reply = post_signed(
        sender.events_url,
        body,
        sender.fake.signing_secret,
        content_type=JSON_CONTENT_TYPE,
    )
    assert reply.status == 200
    assert "challenge-3f2a" in reply.body


def test_retried_event_acts_once(
    sender: SlackSender, server: BotProcess, slack: FakeSlack
) -> None:
    event = app_home_opened_event("U0CAROL", channel="D0CAROL")
    body = event_callback_body(event, event_id="EvRETRIED01")
    secret = slack.signing_secret
    first = post_signed(sender.events_url, body, secret, content_type=JSON_CONTENT_TYPE)
    retry = post_signed(
        sender.events_url, body, secret, content_type=JSON_CONTENT_TYPE, retry_num=1
    )
    server.wait_for_log("dropped repeated request event:EvRETRIED01")
    published = slack.wait_for_calls("views.publish", ok=True)
    assert (first.status, retry.status) == (200, 200)
    assert [c.params.get("user_id") for c in published].count("U0CAROL") == 1


def test_post_to_channel_reposts_reply(
    sender: SlackSender, slack: FakeSlack, runs
) -> None:
    exchange = sender.command("search tag:e2e")
    reply = sender.reply(exchange)
    button = reply["blocks"][-1]["elements"][0]
    assert button["action_id"] == ACTION_POST_TO_CHANNEL
    before = len(slack.messages("C0MLTEAM"))
    click = sender.click(ACTION_POST_TO_CHANNEL, button["value"])
    posted = sender.replies(click, count=2)
    assert posted[0]["response_type"] == "in_channel"
    assert posted[1]["delete_original"] is True
    channel = slack.messages("C0MLTEAM")[before:]
    text = "\n".join(reply_text({"blocks": m.blocks}) for m in channel)
    assert runs["first"].short_id in text
    assert "Posted by <@U0ALICE>" in text


def test_post_to_channel_hides_private(sender: SlackSender, runs) -> None:
    value = json.dumps({"text": "search tag:e2e"})
    click = sender.click(ACTION_POST_TO_CHANNEL, value)
    posted = reply_text(sender.replies(click, count=2)[0])
    assert runs["first"].short_id in posted
    assert runs["secret"].short_id not in posted


def test_post_to_channel_after_url_expired(
    sender: SlackSender, slack: FakeSlack, runs
) -> None:
    expired = f"{slack.base_url}response/expired-or-unknown"
    value = json.dumps({"text": f"show {runs['first'].short_id}"})
    sender.click(ACTION_POST_TO_CHANNEL, value, response_url=expired)

    def reposted(call: Any) -> bool:
        text = json.dumps(call.params)
        return call.method == "chat.postMessage" and "Posted by" in text

    slack.log.wait_until(lambda calls: any(reposted(c) for c in calls))
    call = next(c for c in slack.calls("chat.postMessage") if reposted(c))
    assert call.ok
    assert call.params["channel"] == "C0MLTEAM"
    assert runs["first"].name in json.dumps(call.params)


def test_changing_commands_have_no_post_button(sender: SlackSender, runs) -> None:
    exchange = sender.command(f"note {runs['first'].short_id} no button here")
    assert "blocks" not in sender.reply(exchange)


def test_no_reply_contains_traceback(sender: SlackSender, slack: FakeSlack) -> None:
    sender.reply(sender.command("show"))
    posts = slack.calls("response_url")
    assert posts
    assert not [c for c in posts if "Traceback" in json.dumps(c.params)]


def test_every_registered_command_answers(sender: SlackSender) -> None:
    for name in sorted(COMMANDS):
        text = sender.run(f"help {name}")
        assert f"/exp {name}" in text, name


# -- notification and report subcommands -------------------------------------


def test_subscribe_lists_and_unsubscribes(sender: SlackSender) -> None:
    channel = {"channel_id": "C0GENERAL"}
    added = sender.run("subscribe tag:e2e events:completed", **channel)
    listed = sender.run("subscriptions", **channel)
    removed = sender.run("unsubscribe 1", **channel)
    assert "now hears about" in added
    assert "1. " in listed
    assert "Removed subscription 1" in removed


def test_subscribe_bad_event_is_refused(sender: SlackSender) -> None:
    text = sender.run("subscribe tag:e2e events:exploded")
    assert "Unknown event kind" in text
    assert "/exp help subscribe" in text


def test_unsubscribe_unknown_number_is_refused(sender: SlackSender) -> None:
    text = sender.run("unsubscribe 99", channel_id="C0RANDOM")
    assert "no subscription 99" in text


def test_subscriptions_with_arguments_is_refused(sender: SlackSender) -> None:
    assert "takes no arguments" in sender.run("subscriptions now")


def test_schedule_lists_and_unschedules(sender: SlackSender) -> None:
    channel = {"channel_id": "C0GENERAL"}
    added = sender.run("schedule monthly team:default day:1 at:09:00", **channel)
    listed = sender.run("schedules", **channel)
    removed = sender.run("unschedule 1", **channel)
    assert ":warning:" not in added
    assert "1. " in listed
    assert "Stopped schedule 1" in removed


def test_schedule_bad_cadence_is_refused(sender: SlackSender) -> None:
    text = sender.run("schedule yearly")
    assert ":warning:" in text
    assert "yearly" in text


def test_unschedule_unknown_number_is_refused(sender: SlackSender) -> None:
    text = sender.run("unschedule 99", channel_id="C0RANDOM")
    assert ":warning:" in text
    assert "99" in text


def test_schedules_with_arguments_is_refused(sender: SlackSender) -> None:
    assert "takes no arguments" in sender.run("schedules all")


def test_report_builds_month(sender: SlackSender, runs) -> None:
    month = runs["first"].created_at.strftime("%Y-%m")
    text = sender.run(f"report team:default month:{month}")
    assert ":warning:" not in text
    assert "Sorry" not in text


def test_report_bad_month_is_refused(sender: SlackSender) -> None:
    text = sender.run("report team:default month:2026-13")
    assert ":warning:" in text
    assert "2026-13" in text
