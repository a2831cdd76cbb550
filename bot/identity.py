"""Slack users as researchers: a handle, a team and an admin flag for each.

A Slack user is looked up in the people table by Slack id. The first time
an unknown user shows up, `users.info` gives their email: a person with
that email is linked, else a person is created with a handle from the
email's local part (or the Slack name). `/exp link HANDLE` links one
explicitly.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from slack_sdk.errors import SlackApiError, SlackClientError

from tracker import people
from tracker.errors import PermissionDenied, StorageError

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
        person = people.by_slack_id(self.tracker, user_id)
        if person is None:
            person = self._first_sight(user_id, name_hint)
        return Identity(
            user_id=user_id,
            handle=person.handle,
            team=person.team or None,
            is_admin=self.settings.is_admin(user_id),
        )

    def handle_for(self, user_id: str) -> str:
        return self.identify(user_id).handle

    def link(
        self, identity: Identity, handle: str, *, team: str | None = None
    ) -> people.PersonRecord:
        """Link the user to `handle`, if the handle is theirs to take.

        A handle linked to another Slack user, or recorded with another
        email, needs an admin; anyone may take a handle no one has.
        """
        profile = self.profile(identity.user_id)
        current = people.by_handle(self.tracker, handle.strip().lstrip("@"))
        if current is not None and not identity.is_admin:
            _check_may_take(current, identity, profile)
        person = people.link_slack_user(
            self.tracker,
            handle,
            identity.user_id,
            email=profile.email if profile else None,
            team=team,
        )
        logger.info("linked Slack user %s to %s", identity.user_id, person.handle)
        return person

    def profile(self, user_id: str) -> SlackProfile | None:
        """Return the user's name and email from `users.info`, if reachable."""
        if self.client is None:
            return None
        try:
            response = self.client.users_info(user=user_id)
        except (SlackApiError, SlackClientError) as exc:
            logger.warning("users.info failed for %s: %s", user_id, exc)
            return None
        return _profile_from(user_id, response.get("user") or {})

    def _first_sight(self, user_id: str, name_hint: str) -> people.PersonRecord:
        profile = self.profile(user_id)
        email = profile.email if profile else None
        if email:
            known = people.by_email(self.tracker, email)
            if known is not None and known.slack_user_id in (None, user_id):
                return self._link_new(known.handle, user_id, profile)
        base = people.handle_from(email or (profile.name if profile else name_hint))
        if base == "user":
            base = people.handle_from(user_id)
        handle = people.free_handle(self.tracker, base, slack_user_id=user_id)
        return self._link_new(handle, user_id, profile)

    def _link_new(
        self, handle: str, user_id: str, profile: SlackProfile | None
    ) -> people.PersonRecord:
        try:
            person = people.link_slack_user(
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
        logger.info("Slack user %s is researcher %s", user_id, person.handle)
        return person


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


def _check_may_take(
    person: people.PersonRecord, identity: Identity, profile: SlackProfile | None
) -> None:
    if person.slack_user_id not in (None, identity.user_id):
        raise PermissionDenied(
            f"Handle `{person.handle}` is linked to another Slack user. "
            "Ask an admin to move it, or pick another handle."
        )
    email = profile.email if profile else None
    if person.email is not None and person.email != email:
        raise PermissionDenied(
            f"Handle `{person.handle}` belongs to another email address. "
            "Ask an admin to link it for you, or pick another handle."
        )
