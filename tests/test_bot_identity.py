"""Slack users to researchers: the people table, users.info and /exp link."""

from __future__ import annotations

import pytest
from slack_sdk import WebClient

from bot.identity import Directory
from bot.settings import Settings
from tests.fakeslack import FakeSlack, Fault, User
from tracker import Tracker, people
from tracker.errors import InvalidInput, PermissionDenied

SETTINGS = Settings(admins=frozenset({"U0CAROL"}))


@pytest.fixture
def directory(sqlite_tracker: Tracker, fake_slack_client: WebClient) -> Directory:
    return Directory(sqlite_tracker, SETTINGS, fake_slack_client)


def test_first_sight_uses_email_local_part(directory: Directory) -> None:
    identity = directory.identify("U0ALICE")
    person = people.by_slack_id(directory.tracker, "U0ALICE")
    assert identity.handle == "alice"
    assert person is not None
    assert person.email == "alice@example.com"


def test_first_sight_matches_known_email(directory: Directory) -> None:
    people.add_person(directory.tracker, "a.archer", email="Alice@Example.com")
    assert directory.identify("U0ALICE").handle == "a.archer"


def test_first_sight_takes_unlinked_handle_with_email(directory: Directory) -> None:
    people.add_person(directory.tracker, "alice", email="alice@example.com", team="nlp")
    identity = directory.identify("U0ALICE")
    assert (identity.handle, identity.team) == ("alice", "nlp")
    assert identity.notice == ""


def test_first_sight_skips_person_without_email(directory: Directory) -> None:
    people.add_person(directory.tracker, "alice", team="nlp")
    identity = directory.identify("U0ALICE")
    assert (identity.handle, identity.team) == ("alice2", None)
    assert "/exp link alice @alice2" in identity.notice


def test_first_sight_skips_cli_researcher(directory: Directory) -> None:
    directory.tracker.track("cli-run", researcher="alice", capture=False)
    identity = directory.identify("U0ALICE")
    assert identity.handle == "alice2"
    assert "`alice` is already in use" in identity.notice


def test_first_sight_skips_collaborator_handle(directory: Directory) -> None:
    directory.tracker.track(
        "cli-run", researcher="erin", collaborators=["alice"], capture=False
    )
    assert directory.identify("U0ALICE").handle == "alice2"


def test_first_sight_skips_every_claimed_suffix(directory: Directory) -> None:
    for handle in ("alice", "alice2", "alice3"):
        directory.tracker.track("run", researcher=handle, capture=False)
    assert directory.identify("U0ALICE").handle == "alice4"


def test_first_sight_of_unknown_user_is_refused(directory: Directory) -> None:
    with pytest.raises(InvalidInput, match="Slack has no user `U0NOSUCH`"):
        directory.identify("U0NOSUCH")
    assert people.by_slack_id(directory.tracker, "U0NOSUCH") is None


def test_first_sight_avoids_linked_handle(directory: Directory) -> None:
    people.link_slack_user(directory.tracker, "alice", "U0OTHER")
    assert directory.identify("U0ALICE").handle == "alice2"


def test_second_sight_reads_people_table(
    directory: Directory, fake_slack: FakeSlack
) -> None:
    directory.identify("U0BOB")
    calls = len(fake_slack.calls("users.info"))
    assert directory.identify("U0BOB").handle == "bob"
    assert len(fake_slack.calls("users.info")) == calls


def test_users_info_failure_falls_back_to_name(
    directory: Directory, fake_slack: FakeSlack
) -> None:
    fake_slack.inject("users.info", Fault(status=500))
    assert directory.identify("U0BOB", name_hint="Bob B").handle == "bob-b"


def test_user_without_email_uses_display_name(
    directory: Directory, fake_slack: FakeSlack
) -> None:
    fake_slack.add_user(User("U0DAN", "dan.d", "Dan Dunn", None))
    assert directory.identify("U0DAN").handle == "dan.d"


def test_admin_flag_from_settings(directory: Directory) -> None:
    assert directory.identify("U0CAROL").is_admin
    assert not directory.identify("U0ALICE").is_admin


def test_link_moves_slack_id_and_email(directory: Directory) -> None:
    identity = directory.identify("U0ALICE")
    person = directory.link(identity, "aarcher", team="nlp")
    old = people.by_handle(directory.tracker, "alice")
    assert (person.handle, person.team, person.email) == (
        "aarcher",
        "nlp",
        "alice@example.com",
    )
    assert old is not None
    assert (old.slack_user_id, old.email) == (None, None)
    assert directory.identify("U0ALICE").handle == "aarcher"


def test_link_refuses_handle_of_other_user(directory: Directory) -> None:
    directory.identify("U0BOB")
    alice = directory.identify("U0ALICE")
    with pytest.raises(PermissionDenied, match="linked to another Slack user"):
        directory.link(alice, "bob")


def test_link_refuses_handle_with_other_email(directory: Directory) -> None:
    people.add_person(directory.tracker, "bobby", email="b@corp.test")
    alice = directory.identify("U0ALICE")
    with pytest.raises(PermissionDenied, match="another email"):
        directory.link(alice, "bobby")


def test_link_refuses_cli_researcher_handle(directory: Directory) -> None:
    directory.tracker.track("dana-secret", researcher="dana", capture=False)
    alice = directory.identify("U0ALICE")
    with pytest.raises(PermissionDenied, match="only an expbot admin") as caught:
        directory.link(alice, "dana")
    assert "/exp link dana @alice" in str(caught.value)
    assert people.by_handle(directory.tracker, "dana") is None


def test_link_refuses_collaborator_handle(directory: Directory) -> None:
    directory.tracker.track(
        "run", researcher="erin", collaborators=["dana"], capture=False
    )
    alice = directory.identify("U0ALICE")
    with pytest.raises(PermissionDenied, match="already in use"):
        directory.link(alice, "@dana")


def test_link_refuses_person_without_email(directory: Directory) -> None:
    people.add_person(directory.tracker, "dana")
    alice = directory.identify("U0ALICE")
    with pytest.raises(PermissionDenied, match="already in use"):
        directory.link(alice, "dana")


def test_link_takes_person_with_same_email(
    directory: Directory, fake_slack: FakeSlack
) -> None:
    # users.info fails on first sight, so U0ALICE's person has no email.
    fake_slack.inject("users.info", Fault(status=500))
    directory.identify("U0ALICE", name_hint="Alice A")
    people.add_person(directory.tracker, "a.archer", email="alice@example.com")
    directory.tracker.track("run", researcher="a.archer", capture=False)
    person = directory.link(directory.identify("U0ALICE"), "a.archer")
    assert person.slack_user_id == "U0ALICE"


def test_link_keeps_own_handle(directory: Directory) -> None:
    alice = directory.identify("U0ALICE")
    directory.tracker.track("run", researcher="alice", capture=False)
    person = directory.link(alice, "alice", team="nlp")
    assert (person.handle, person.team) == ("alice", "nlp")


def test_admin_may_link_cli_researcher_handle(directory: Directory) -> None:
    directory.tracker.track("dana-secret", researcher="dana", capture=False)
    carol = directory.identify("U0CAROL")
    assert directory.link(carol, "dana").slack_user_id == "U0CAROL"


def test_admin_may_link_taken_handle(directory: Directory) -> None:
    directory.identify("U0BOB")
    carol = directory.identify("U0CAROL")
    person = directory.link(carol, "bob")
    assert person.slack_user_id == "U0CAROL"


def test_add_person_twice_is_refused(sqlite_tracker: Tracker) -> None:
    people.add_person(sqlite_tracker, "erin")
    with pytest.raises(InvalidInput, match="already exists"):
        people.add_person(sqlite_tracker, "erin")


def test_handle_from_cases() -> None:
    assert people.handle_from("Alice.Archer+ml@example.com") == "alice.archer+ml"
    assert people.handle_from("Bob Baker") == "bob-baker"
    assert people.handle_from("   ") == "user"


def test_slack_ids_for_linked_handles(directory: Directory) -> None:
    directory.identify("U0ALICE")
    found = people.slack_ids_for(directory.tracker, ["alice", "nobody"])
    assert found == {"alice": "U0ALICE"}
