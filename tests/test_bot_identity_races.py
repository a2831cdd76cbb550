"""Two new Slack users who take the same free handle at once: one gets it.

The race is forced: a wrapper around `people.claim_handle` stops each
thread's first claim at a barrier, so both threads have already found the
handle free when the first of them claims it. Each test runs on SQLite and
PostgreSQL.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from slack_sdk import WebClient

from bot.identity import Directory, Identity
from bot.settings import Settings
from tests.fakeslack import FakeSlack, User
from tests.threads import run_together
from tracker import Tracker, people
from tracker.errors import PermissionDenied

# Two users whose emails share the local part, so both guess `sam`.
SAM_ONE = User("U0SAM1", "sam.one", "Sam One", "sam@a.test")
SAM_TWO = User("U0SAM2", "sam.two", "Sam Two", "sam@b.test")


@pytest.fixture
def directory(
    tracker: Tracker, fake_slack: FakeSlack, fake_slack_client: WebClient
) -> Directory:
    fake_slack.add_user(SAM_ONE)
    fake_slack.add_user(SAM_TWO)
    return Directory(tracker, Settings(), fake_slack_client)


def hold_first_claims(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hold each of two threads' first claim until both threads reach it."""
    barrier = threading.Barrier(2, timeout=60)
    state = threading.local()
    claim_handle = people.claim_handle

    def claim_after_barrier(*args: Any, **kwargs: Any) -> people.Claim:
        if not getattr(state, "waited", False):
            state.waited = True
            barrier.wait()
        return claim_handle(*args, **kwargs)

    monkeypatch.setattr(people, "claim_handle", claim_after_barrier)


def identify(directory: Directory, user_id: str) -> Callable[[], Identity]:
    return lambda: directory.identify(user_id)


def test_first_sight_race_gives_one_handle(
    directory: Directory, monkeypatch: pytest.MonkeyPatch
) -> None:
    hold_first_claims(monkeypatch)
    results = run_together(
        [identify(directory, SAM_ONE.id), identify(directory, SAM_TWO.id)]
    )

    assert all(isinstance(result, Identity) for result in results), results
    identities = {r.user_id: r for r in results if isinstance(r, Identity)}
    handles = sorted(identity.handle for identity in identities.values())
    assert handles == ["sam", "sam2"]
    winner = next(i for i in identities.values() if i.handle == "sam")
    loser = next(i for i in identities.values() if i.handle == "sam2")
    assert winner.notice == ""
    assert "the handle `sam` is already in use" in loser.notice
    for user_id, identity in identities.items():
        stored = people.by_slack_id(directory.tracker, user_id)
        assert stored is not None
        assert stored.handle == identity.handle


def test_link_race_gives_one_handle(
    directory: Directory, monkeypatch: pytest.MonkeyPatch
) -> None:
    sam_one = directory.identify(SAM_ONE.id)
    sam_two = directory.identify(SAM_TWO.id)
    hold_first_claims(monkeypatch)
    results = run_together(
        [
            lambda: directory.link(sam_one, "dana"),
            lambda: directory.link(sam_two, "dana"),
        ]
    )

    linked = [r for r in results if isinstance(r, people.PersonRecord)]
    refused = [r for r in results if isinstance(r, PermissionDenied)]
    assert len(linked) == 1, results
    assert len(refused) == 1, results
    message = str(refused[0])
    assert "Handle `dana` was linked to another Slack user a moment ago" in message
    assert "/exp link HANDLE" in message
    stored = people.by_handle(directory.tracker, "dana")
    assert stored is not None
    assert stored.slack_user_id == linked[0].slack_user_id
    loser_id = ({SAM_ONE.id, SAM_TWO.id} - {linked[0].slack_user_id}).pop()
    loser = people.by_slack_id(directory.tracker, loser_id)
    assert loser is not None
    assert loser.handle in ("sam", "sam2")
