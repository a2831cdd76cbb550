"""`people.claim_handle`: a Slack user gets a handle only if no one else has it.

Each test runs on SQLite and PostgreSQL. The race test starts two threads,
each with its own Tracker and so its own database connection, that claim
the same handle after a barrier.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.threads import run_together
from tracker import Tracker, people

ROUNDS = 10


def test_claim_creates_new_person(tracker: Tracker) -> None:
    claim = people.claim_handle(
        tracker, "sam", "U0SAM1", email="Sam@A.test", display_name="Sam"
    )
    stored = people.by_handle(tracker, "sam")
    assert claim.linked
    assert claim.person == stored
    assert stored is not None
    assert (stored.slack_user_id, stored.email, stored.display_name) == (
        "U0SAM1",
        "sam@a.test",
        "Sam",
    )


def test_claim_of_linked_handle_reports_holder(tracker: Tracker) -> None:
    people.link_slack_user(tracker, "sam", "U0SAM1")
    claim = people.claim_handle(tracker, "sam", "U0SAM2", email="sam@b.test")
    assert not claim.linked
    assert claim.person.slack_user_id == "U0SAM1"
    assert people.by_slack_id(tracker, "U0SAM2") is None


def test_claim_of_own_handle_sets_team(tracker: Tracker) -> None:
    people.link_slack_user(tracker, "sam", "U0SAM1")
    claim = people.claim_handle(tracker, "sam", "U0SAM1", team="nlp")
    assert claim.linked
    assert claim.person.team == "nlp"


def test_claim_takes_unlinked_person_with_email(tracker: Tracker) -> None:
    people.add_person(tracker, "s.smith", email="sam@a.test")
    claim = people.claim_handle(tracker, "s.smith", "U0SAM1", email="sam@a.test")
    assert claim.linked
    assert claim.person.slack_user_id == "U0SAM1"


@pytest.mark.parametrize("stored_email", ["sam@b.test", None])
def test_claim_skips_unlinked_person_without_match(
    tracker: Tracker, stored_email: str | None
) -> None:
    people.add_person(tracker, "s.smith", email=stored_email)
    claim = people.claim_handle(tracker, "s.smith", "U0SAM1", email="sam@a.test")
    stored = people.by_handle(tracker, "s.smith")
    assert not claim.linked
    assert stored is not None
    assert (stored.slack_user_id, stored.email) == (None, stored_email)


def test_claim_moves_user_off_old_handle(tracker: Tracker) -> None:
    people.link_slack_user(tracker, "sam2", "U0SAM1", email="sam@a.test")
    claim = people.claim_handle(tracker, "sam", "U0SAM1", email="sam@a.test")
    old = people.by_handle(tracker, "sam2")
    assert claim.linked
    assert claim.person.email == "sam@a.test"
    assert old is not None
    assert (old.slack_user_id, old.email) == (None, None)


def test_lost_claim_changes_nothing(tracker: Tracker) -> None:
    people.link_slack_user(tracker, "sam", "U0SAM1", email="sam@a.test")
    people.link_slack_user(tracker, "sam2", "U0SAM2", email="sam@b.test")
    claim = people.claim_handle(tracker, "sam", "U0SAM2", email="sam@b.test")
    loser = people.by_handle(tracker, "sam2")
    assert not claim.linked
    assert loser is not None
    assert (loser.slack_user_id, loser.email) == ("U0SAM2", "sam@b.test")


def claim_later(tracker: Tracker, handle: str, user_id: str) -> Callable[[], object]:
    return lambda: people.claim_handle(tracker, handle, user_id)


def test_concurrent_claims_link_exactly_one(database_url: str) -> None:
    first, second = Tracker(database_url), Tracker(database_url)
    try:
        for round_number in range(ROUNDS):
            handle = f"sam{round_number}"
            claims = run_together(
                [
                    claim_later(first, handle, f"U0A{round_number}"),
                    claim_later(second, handle, f"U0B{round_number}"),
                ]
            )
            assert all(isinstance(c, people.Claim) for c in claims), claims
            winners = [c for c in claims if isinstance(c, people.Claim) and c.linked]
            losers = [c for c in claims if isinstance(c, people.Claim) and not c.linked]
            stored = people.by_handle(first, handle)
            assert len(winners) == 1, claims
            assert len(losers) == 1, claims
            assert stored is not None
            assert losers[0].person.slack_user_id == winners[0].person.slack_user_id
            assert stored.slack_user_id == winners[0].person.slack_user_id
    finally:
        first.close()
        second.close()
