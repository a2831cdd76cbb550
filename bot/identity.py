"""Slack users as researchers: a handle, a team and an admin flag for each.

A Slack user is looked up in the people table by Slack id. The first time
an unknown user shows up, `users.info` gives their email: a person with
that email is linked, else a person is created with a handle from the
email's local part (or the Slack name). `/exp link HANDLE` links one
explicitly.

A handle is claimed once a person has it or an experiment records it as
researcher or collaborator. Taking a claimed handle gives access to its
private experiments, so a Slack user gets one only when the person's
stored email matches their Slack email, or from an admin. Experiments
recorded from the CLI have no email behind their handle, so a guess from
an email's local part never takes such a handle.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy import exists, or_, select, union

from tracker import models, people, validation
from tracker.errors import InvalidInput, PermissionDenied, StorageError

if TYPE_CHECKING:
    from slack_sdk import WebClient

    from bot.settings import Settings
    from tracker import Tracker

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Identity:
    user_id: str  # Slack user id
    handle: str  # researcher handle
    team: str | None
    is_admin: bool
    # Set on first sight when the guessed handle was claimed: what to tell
    # the user about the handle they got instead. NOTE: only `/exp` shows
    # it, so a user first seen through a button or App Home never sees it.
    notice: str = ""


@dataclass(frozen=True)
class SlackProfile:
    user_id: str
    name: str
    email: str | None


class Directory:
    """Resolves Slack users to researchers, creating people on first sight."""

    def __init__(
        self, tracker: Tracker, settings: Settings, client: WebClient | None
    ) -> None:
        self.tracker = tracker
        self.settings = settings
        self.client = client

    def identify(self, user_id: str, name_hint: str = "") -> Identity:
        """Return the user's identity, creating their person on first sight.

        Raises InvalidInput when Slack has no user `user_id`.
        """
        person = people.by_slack_id(self.tracker, user_id)
        notice = ""
        if person is None:
            person, notice = self._first_sight(user_id, name_hint)
        return Identity(
            user_id=user_id,
            handle=person.handle,
            team=person.team or None,
            is_admin=self.settings.is_admin(user_id),
            notice=notice,
        )

    def handle_for(self, user_id: str) -> str:
        return self.identify(user_id).handle

    def link(
        self, identity: Identity, handle: str, *, team: str | None = None
    ) -> people.PersonRecord:
        """Link the user to `handle`, if the handle is theirs to take.

        Anyone may take an unclaimed handle, and the handle they already
        have. A claimed handle needs an admin, unless its person is linked
        to no Slack user and has the user's Slack email.
        """
        handle = validation.handle(handle)
        profile = self.profile(identity.user_id)
        email = profile.email if profile else None
        if identity.is_admin:
            person = people.link_slack_user(
                self.tracker, handle, identity.user_id, email=email, team=team
            )
        else:
            self._check_may_take(handle, identity, profile)
            # The check above read the handle's state, which may change before
            # the claim. The claim links only if the state still allows it, so
            # of two users who take the same free handle at once, one gets it.
            claim = people.claim_handle(
                self.tracker, handle, identity.user_id, email=email, team=team
            )
            if not claim.linked:
                _log_lost_claim(identity.user_id, claim.person)
                raise PermissionDenied(_taken_message(handle, claim.person, identity))
            person = claim.person
        logger.info("linked Slack user %s to %s", identity.user_id, person.handle)
        return person

    def profile(self, user_id: str) -> SlackProfile | None:
        """Return the user's name and email from `users.info`, if reachable.

        Raises InvalidInput when Slack answers that it has no such user, so
        that a made-up id in a mention never becomes a person.
        """
        if self.client is None:
            return None
        try:
            response = self.client.users_info(user=user_id)
        except SlackApiError as exc:
            if exc.response.get("error") == "user_not_found":
                raise InvalidInput(
                    f"Slack has no user `{user_id}`. Mention people of this "
                    "workspace by picking them from Slack's list, e.g. `@bob`."
                ) from exc
            logger.warning("users.info failed for %s: %s", user_id, exc)
            return None
        except SlackClientError as exc:
            logger.warning("users.info failed for %s: %s", user_id, exc)
            return None
        return _profile_from(user_id, response.get("user") or {})

    def _first_sight(
        self, user_id: str, name_hint: str
    ) -> tuple[people.PersonRecord, str]:
        """Create or find the person of a new Slack user; return it and a notice."""
        profile = self.profile(user_id)
        email = profile.email if profile else None
        if email:
            known = people.by_email(self.tracker, email)
            if known is not None and known.slack_user_id in (None, user_id):
                linked = self._claim_new(known.handle, user_id, profile)
                if linked is not None:
                    return linked, ""
        guess = people.handle_from(email or (profile.name if profile else name_hint))
        if guess == "user":
            guess = people.handle_from(user_id)
        person = self._claim_unclaimed(guess, user_id, profile)
        if person.handle == guess:
            return person, ""
        logger.info(
            "Slack user %s got %s because %s is claimed", user_id, person.handle, guess
        )
        return person, _claimed_notice(guess, person.handle)

    def _check_may_take(
        self, handle: str, identity: Identity, profile: SlackProfile | None
    ) -> None:
        """Raise PermissionDenied unless a non-admin may link `handle`."""
        current = people.by_handle(self.tracker, handle)
        if current is not None and current.slack_user_id == identity.user_id:
            return
        if current is not None and current.slack_user_id is not None:
            raise PermissionDenied(
                f"Handle `{handle}` is linked to another Slack user. "
                "Ask an admin to move it, or pick another handle."
            )
        email = profile.email if profile else None
        if current is not None and current.email is not None:
            if current.email == email:
                return
            raise PermissionDenied(
                f"Handle `{handle}` belongs to another email address. "
                "Ask an admin to link it for you, or pick another handle."
            )
        if current is not None or handle_in_use(self.tracker, handle):
            raise PermissionDenied(
                f"Handle `{handle}` is already in use by experiments or by a "
                "person expbot knows, and no email stored for it matches your "
                "Slack email, so only an expbot admin can link it to you. Ask "
                f"an admin to run `/exp link {handle} @{identity.handle}`, or "
                "pick a handle no one uses."
            )

    def _claim_unclaimed(
        self, guess: str, user_id: str, profile: SlackProfile | None
    ) -> people.PersonRecord:
        """Link the user to `guess`, or to the first free numbered variant.

        Another new user may take the chosen handle between the lookup and
        the claim. A lost claim leaves that handle claimed, so the next
        lookup returns a later variant, and `unclaimed_handle` raises
        InvalidInput once all of them are taken.
        """
        while True:
            handle = unclaimed_handle(self.tracker, guess)
            person = self._claim_new(handle, user_id, profile)
            if person is not None:
                return person

    def _claim_new(
        self, handle: str, user_id: str, profile: SlackProfile | None
    ) -> people.PersonRecord | None:
        """Link a new user to `handle`; return None if someone else has it."""
        try:
            claim = people.claim_handle(
                self.tracker,
                handle,
                user_id,
                email=profile.email if profile else None,
                display_name=profile.name if profile else None,
            )
        except StorageError:
            # Two first requests of one user raced; the other one won.
            existing = people.by_slack_id(self.tracker, user_id)
            if existing is None:
                raise
            return existing
        if not claim.linked:
            _log_lost_claim(user_id, claim.person)
            return None
        logger.info("Slack user %s is researcher %s", user_id, claim.person.handle)
        return claim.person


def _profile_from(user_id: str, user: dict[str, Any]) -> SlackProfile:
    profile = user.get("profile") or {}
    name = (
        profile.get("display_name")
        or user.get("name")
        or profile.get("real_name")
        or user_id
    )
    email = profile.get("email")
    return SlackProfile(user_id, str(name), str(email).lower() if email else None)


def _log_lost_claim(user_id: str, holder: people.PersonRecord) -> None:
    logger.info(
        "Slack user %s lost the claim on %s to %s",
        user_id,
        holder.handle,
        holder.slack_user_id or "a person linked to no Slack user",
    )


def _taken_message(handle: str, holder: people.PersonRecord, identity: Identity) -> str:
    if holder.slack_user_id is not None:
        change = "linked to another Slack user"
    else:
        change = "added to expbot's people list"
    return (
        f"Handle `{handle}` was {change} a moment ago, so it is no longer free. "
        "Pick another handle with `/exp link HANDLE`, or, if "
        f"`{handle}` is yours, ask an expbot admin to run `/exp link {handle} "
        f"@{identity.handle}`."
    )


def _claimed_notice(guess: str, handle: str) -> str:
    return (
        f":wave: expbot knows you as `{handle}`, because the handle `{guess}` "
        "is already in use and no email stored for it matches yours. If "
        f"`{guess}` is you, ask an expbot admin to run `/exp link {guess} "
        f"@{handle}`."
    )


def handle_in_use(tracker: Tracker, handle: str) -> bool:
    """Return whether a person has `handle` or an experiment records it."""
    statement = select(
        or_(
            exists().where(models.Person.handle == handle),
            exists().where(models.Experiment.researcher == handle),
            exists().where(models.Collaborator.handle == handle),
        )
    )
    with tracker.db.read() as session:
        return bool(session.scalar(statement))


def claimed_handles(tracker: Tracker, handles: list[str]) -> set[str]:
    """Return those of `handles` that a person has or an experiment records."""
    statement = union(
        select(models.Person.handle).where(models.Person.handle.in_(handles)),
        select(models.Experiment.researcher).where(
            models.Experiment.researcher.in_(handles)
        ),
        select(models.Collaborator.handle).where(
            models.Collaborator.handle.in_(handles)
        ),
    )
    with tracker.db.read() as session:
        return set(session.scalars(statement))


def unclaimed_handle(tracker: Tracker, base: str) -> str:
    """Return `base`, or the first of `base2` ... `base99` that no one claims."""
    base = validation.handle(base)
    candidates = [base, *(f"{base}{n}" for n in range(2, people.MAX_HANDLE_SUFFIX + 1))]
    claimed = claimed_handles(tracker, candidates)
    for candidate in candidates:
        if candidate not in claimed:
            return candidate
    raise InvalidInput(
        f"Handles {base} to {base}{people.MAX_HANDLE_SUFFIX} are all taken: "
        "pick another with `/exp link HANDLE`."
    )
