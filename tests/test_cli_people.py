"""`expbot people`: listing people and recording their emails from the CLI."""

from __future__ import annotations

import json
import threading

import pytest
from slack_sdk import WebClient
from sqlalchemy import create_engine, insert, text

from bot.cli import main
from bot.identity import Directory
from bot.settings import Settings
from tracker import Tracker, emails, models, people
from tracker.errors import InvalidInput


@pytest.fixture(autouse=True)
def as_alice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXPBOT_RESEARCHER", "alice")
    monkeypatch.delenv("EXPBOT_ADMINS", raising=False)


def people_cli(url: str, *args: str) -> int:
    return main(["--database-url", url, "people", *args])


def test_list_empty_prints_hint(sqlite_url, sqlite_tracker, capsys) -> None:
    status = people_cli(sqlite_url, "list")
    assert status == 0
    assert "expbot people add HANDLE --email ADDRESS" in capsys.readouterr().out


def test_add_own_handle_records_person(sqlite_url, sqlite_tracker, capsys) -> None:
    status = people_cli(
        sqlite_url,
        "add",
        "alice",
        "--email",
        " Alice@Example.com ",
        "--name",
        "Alice Archer",
        "--team",
        "nlp",
    )
    output = capsys.readouterr().out
    person = people.by_handle(sqlite_tracker, "alice")
    assert status == 0
    assert "Added alice with email alice@example.com" in output
    assert "/exp link alice" in output
    assert person == people.PersonRecord(
        "alice", None, "alice@example.com", "Alice Archer", "nlp"
    )


def test_list_prints_table_and_json(sqlite_url, sqlite_tracker, capsys) -> None:
    people.link_slack_user(sqlite_tracker, "bob", "U0BOB", email="bob@example.com")
    people.add_person(sqlite_tracker, "alice", email="alice@example.com", team="nlp")

    assert people_cli(sqlite_url, "list") == 0
    table = capsys.readouterr().out.splitlines()
    assert people_cli(sqlite_url, "list", "--json") == 0
    listed = json.loads(capsys.readouterr().out)

    assert table[0].split() == ["HANDLE", "NAME", "TEAM", "EMAIL", "SLACK", "USER"]
    assert table[2].split() == ["alice", "-", "nlp", "alice@example.com", "-"]
    assert table[3].split() == ["bob", "-", "-", "bob@example.com", "U0BOB"]
    assert listed == [
        {
            "handle": "alice",
            "display_name": "",
            "team": "nlp",
            "email": "alice@example.com",
            "slack_user_id": None,
        },
        {
            "handle": "bob",
            "display_name": "",
            "team": "",
            "email": "bob@example.com",
            "slack_user_id": "U0BOB",
        },
    ]


def test_add_json_prints_person(sqlite_url, capsys) -> None:
    status = people_cli(sqlite_url, "add", "alice", "--email", "a@x.test", "--json")
    printed = json.loads(capsys.readouterr().out)
    assert status == 0
    assert printed["handle"] == "alice"
    assert printed["email"] == "a@x.test"


def test_add_other_handle_is_rejected(sqlite_url, sqlite_tracker, capsys) -> None:
    status = people_cli(sqlite_url, "add", "bob", "--email", "bob@example.com")
    error = capsys.readouterr().err
    assert status == 1
    assert "You are `alice`, so you may add or change only the person `alice`" in error
    assert "EXPBOT_ADMINS" in error
    assert people.by_handle(sqlite_tracker, "bob") is None


def test_admin_adds_other_handle(
    sqlite_url, sqlite_tracker, monkeypatch, capsys
) -> None:
    people.link_slack_user(sqlite_tracker, "carol", "U0CAROL")
    monkeypatch.setenv("EXPBOT_RESEARCHER", "carol")
    monkeypatch.setenv("EXPBOT_ADMINS", "U0OTHER, U0CAROL")

    status = people_cli(sqlite_url, "add", "bob", "--email", "bob@example.com")
    person = people.by_handle(sqlite_tracker, "bob")
    assert status == 0, capsys.readouterr().err
    assert person is not None
    assert person.email == "bob@example.com"


def test_admin_needs_linked_slack_user(
    sqlite_url, sqlite_tracker, monkeypatch, capsys
) -> None:
    # carol has no Slack link, so her handle matches no id in EXPBOT_ADMINS.
    people.add_person(sqlite_tracker, "carol", email="carol@example.com")
    monkeypatch.setenv("EXPBOT_RESEARCHER", "carol")
    monkeypatch.setenv("EXPBOT_ADMINS", "U0CAROL")

    status = people_cli(sqlite_url, "add", "bob", "--email", "bob@example.com")
    assert status == 1
    assert "you may add or change only the person `carol`" in capsys.readouterr().err
    assert people.by_handle(sqlite_tracker, "bob") is None


def test_add_existing_person_is_rejected(sqlite_url, sqlite_tracker, capsys) -> None:
    people.add_person(sqlite_tracker, "alice", email="old@example.com")
    status = people_cli(sqlite_url, "add", "alice", "--email", "new@example.com")
    assert status == 1
    assert "expbot people set-email alice ADDRESS" in capsys.readouterr().err


def test_add_invalid_handle_is_rejected(sqlite_url, capsys) -> None:
    status = people_cli(sqlite_url, "add", "al ice", "--email", "a@x.test")
    assert status == 1
    assert "Invalid handle 'al ice'" in capsys.readouterr().err


def test_add_invalid_email_names_value(sqlite_url, sqlite_tracker, capsys) -> None:
    status = people_cli(sqlite_url, "add", "alice", "--email", "alice.example.com")
    error = capsys.readouterr().err
    assert status == 1
    assert "'alice.example.com' has no @" in error
    assert "e.g. alice@example.com" in error
    assert people.by_handle(sqlite_tracker, "alice") is None


def test_add_without_email_is_usage_error(sqlite_url) -> None:
    with pytest.raises(SystemExit) as exited:
        people_cli(sqlite_url, "add", "alice")
    assert exited.value.code == 2


def test_set_email_changes_own(sqlite_url, sqlite_tracker, capsys) -> None:
    people.add_person(sqlite_tracker, "alice", email="old@example.com")
    status = people_cli(sqlite_url, "set-email", "alice", "New@Example.com")
    person = people.by_handle(sqlite_tracker, "alice")
    assert status == 0
    assert "alice has the email new@example.com" in capsys.readouterr().out
    assert person is not None
    assert person.email == "new@example.com"


def test_set_email_of_linked_person(sqlite_url, sqlite_tracker, capsys) -> None:
    people.link_slack_user(sqlite_tracker, "alice", "U0ALICE", email="a@x.test")
    status = people_cli(sqlite_url, "set-email", "alice", "b@x.test", "--json")
    printed = json.loads(capsys.readouterr().out)
    assert status == 0
    assert printed["email"] == "b@x.test"
    assert printed["slack_user_id"] == "U0ALICE"


def test_set_email_clear_removes_email(sqlite_url, sqlite_tracker, capsys) -> None:
    people.add_person(sqlite_tracker, "alice", email="old@example.com")
    status = people_cli(sqlite_url, "set-email", "alice", "--clear")
    person = people.by_handle(sqlite_tracker, "alice")
    assert status == 0
    assert "alice has no email now" in capsys.readouterr().out
    assert person is not None
    assert person.email is None


def test_set_email_needs_address_or_clear(sqlite_url) -> None:
    with pytest.raises(SystemExit) as exited:
        people_cli(sqlite_url, "set-email", "alice")
    assert exited.value.code == 2


def test_set_email_of_other_is_rejected(sqlite_url, sqlite_tracker, capsys) -> None:
    people.add_person(sqlite_tracker, "bob", email="bob@example.com")
    status = people_cli(sqlite_url, "set-email", "bob", "alice@example.com")
    person = people.by_handle(sqlite_tracker, "bob")
    assert status == 1
    assert "Ask an expbot admin" in capsys.readouterr().err
    assert person is not None
    assert person.email == "bob@example.com"


def test_set_email_of_unknown_person(sqlite_url, capsys) -> None:
    status = people_cli(sqlite_url, "set-email", "alice", "alice@example.com")
    error = capsys.readouterr().err
    assert status == 1
    assert "No person `alice`" in error
    assert "expbot people add alice --email ADDRESS" in error


def test_email_of_other_person_is_rejected(sqlite_url, sqlite_tracker, capsys) -> None:
    people.add_person(sqlite_tracker, "a.archer", email="alice@example.com")
    people.add_person(sqlite_tracker, "alice", email="old@example.com")
    status = people_cli(sqlite_url, "set-email", "alice", "alice@example.com")
    error = capsys.readouterr().err
    holder = people.by_handle(sqlite_tracker, "a.archer")
    assert status == 1
    assert "already recorded for `a.archer`" in error
    assert "expbot people set-email a.archer --clear" in error
    assert holder is not None
    assert holder.email == "alice@example.com"


def test_added_email_links_slack_user(
    sqlite_url, sqlite_tracker, fake_slack_client: WebClient
) -> None:
    # alice's CLI runs claim the handle, so only the email can give it to
    # the Slack user U0ALICE (alice@example.com in the fake workspace).
    sqlite_tracker.track("cli-run", researcher="alice", capture=False)
    assert people_cli(sqlite_url, "add", "alice", "--email", "alice@example.com") == 0

    directory = Directory(sqlite_tracker, Settings(), fake_slack_client)
    identity = directory.identify("U0ALICE")
    assert identity.handle == "alice"
    assert identity.notice == ""


LONG_LOCAL = "a" * 65 + "@example.com"
LONG_ADDRESS = "a@" + "b" * 250 + ".com"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "The email address is empty"),
        ("   ", "The email address is empty"),
        ("alice example@x.com", "'alice example@x.com' contains a space"),
        ("alice\u00a0@x.com", "contains a space"),
        ("alice\x07@x.com", "contains the control character"),
        ("alice", "'alice' has no @"),
        ("a@b@x.com", "'a@b@x.com' has 2 @ signs instead of one"),
        ("@x.com", "'@x.com' has no name before the @"),
        ("alice@", "'alice@' has no domain after the @"),
        (LONG_LOCAL, "has 65 bytes before the @, and RFC 5321 allows 64"),
        (LONG_ADDRESS, "has 256 bytes, and RFC 5321 allows 254"),
    ],
)
def test_email_address_rejects(value: str, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        emails.address(value)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (" Alice@Example.COM ", "alice@example.com"),
        ("a.b+ml@sub.example.org", "a.b+ml@sub.example.org"),
        ("a" * 64 + "@x.com", "a" * 64 + "@x.com"),
        ("élise@exemple.fr", "élise@exemple.fr"),
    ],
)
def test_email_address_accepts(value: str, expected: str) -> None:
    assert emails.address(value) == expected


@pytest.mark.postgres
def test_concurrent_add_reports_duplicate(postgres_url: str) -> None:
    """An add that finds no person but loses the insert gets InvalidInput.

    A second connection inserts `erin` and keeps its transaction open, so
    the add's lookup finds nothing and its INSERT waits on the primary key.
    The commit then makes that INSERT fail with a unique violation.
    """
    tracker = Tracker(postgres_url)
    engine = create_engine(postgres_url)
    results: list[object] = []

    def add_erin() -> None:
        try:
            results.append(people.add_person(tracker, "erin", email="e@x.test"))
        except InvalidInput as exc:
            results.append(exc)

    try:
        with engine.connect() as other:
            transaction = other.begin()
            other.execute(
                insert(models.Person).values(
                    handle="erin", display_name="", team="", updated_at=tracker.clock()
                )
            )
            adder = threading.Thread(target=add_erin)
            adder.start()
            wait_for_blocked_query(engine)
            transaction.commit()
        adder.join(timeout=60)
    finally:
        engine.dispose()
        tracker.close()

    assert len(results) == 1
    assert isinstance(results[0], InvalidInput)
    assert "Someone recorded `erin` or e@x.test a moment ago" in str(results[0])


def wait_for_blocked_query(engine, attempts: int = 600) -> None:
    """Block until some session waits for a lock, polling every 50 ms."""
    query = text("SELECT count(*) FROM pg_locks WHERE NOT granted")
    with engine.connect() as connection:
        for _ in range(attempts):
            if connection.execute(query).scalar():
                return
            connection.execute(text("SELECT pg_sleep(0.05)"))
    pytest.fail("the add never waited for the uncommitted insert")
