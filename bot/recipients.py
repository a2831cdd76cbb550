"""Collaborators as Slack users, for the direct messages sent on a share.

A researcher handle maps to a Slack user through the people table: its
linked Slack id, else its email looked up with `users.lookupByEmail`. A
handle that is itself an email address is looked up as one.

A collaborator who never used `/exp` has no email on record. Their handle
is then tried as `HANDLE@DOMAIN` for the most common email domains of the
people table, so `bob` is found as bob@example.com in a team at example.com.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from tracker import people

if TYPE_CHECKING:
    from bot.slack_calls import SlackCalls
    from tracker import Tracker

logger = logging.getLogger(__name__)

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Domains tried for a handle with no email; each try is one Slack API call.
GUESSED_DOMAINS = 3


class UnknownRecipient(Exception):
    """A collaborator with no Slack user that the bot can find."""


class Recipients:
    """Resolves researcher handles to Slack user ids, caching the results."""

    def __init__(self, tracker: Tracker, slack: SlackCalls) -> None:
        self.tracker = tracker
        self.slack = slack
        self._cache: dict[str, str] = {}

    def slack_id(self, handle: str) -> str:
        """Return the user's Slack id; raise UnknownRecipient if there is none.

        Raises `SlackFailure` when the email lookup itself fails.
        """
        if handle in self._cache:
            return self._cache[handle]
        linked = people.slack_ids_for(self.tracker, [handle]).get(handle)
        user_id = linked or self._lookup_by_email(handle)
        self._cache[handle] = user_id
        return user_id

    def forget(self) -> None:
        self._cache.clear()

    def _lookup_by_email(self, handle: str) -> str:
        emails = self._emails(handle)
        if not emails:
            raise UnknownRecipient(
                f"No Slack user is linked to researcher `{handle}` and no email "
                f"is known for them: ask them to run `/exp link {handle}`, then "
                "retry with `expbot outbox retry ID`."
            )
        for email in emails:
            user_id = self.slack.lookup_email(email)
            if user_id is not None:
                logger.info(
                    "found Slack user %s for researcher %s by email %s",
                    user_id,
                    handle,
                    email,
                )
                return user_id
        raise UnknownRecipient(
            f"No Slack user has the email {' or '.join(emails)} of researcher "
            f"`{handle}`: ask them to run `/exp link {handle}`, then retry with "
            "`expbot outbox retry ID`."
        )

    def _emails(self, handle: str) -> list[str]:
        """Return the emails to look up for `handle`, the likeliest first."""
        person = people.by_handle(self.tracker, handle)
        if person is not None and person.email:
            return [person.email]
        if _EMAIL.match(handle):
            return [handle]
        if "@" in handle:
            return []
        domains = people.email_domains(self.tracker, GUESSED_DOMAINS)
        return [f"{handle}@{domain}" for domain in domains]
