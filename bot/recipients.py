"""Collaborators as Slack users, for the direct messages sent on a share.

A researcher handle maps to a Slack user through the people table: its
linked Slack id, else its email looked up with `users.lookupByEmail`. A
handle that is itself an email address is looked up as one.
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
        person = people.by_handle(self.tracker, handle)
        email = person.email if person is not None else None
        if email is None and _EMAIL.match(handle):
            email = handle
        if email is None:
            raise UnknownRecipient(
                f"No Slack user is linked to researcher `{handle}` and no email "
                f"is known for them: ask them to run `/exp link {handle}`, then "
                "retry with `expbot outbox retry ID`."
            )
        user_id = self.slack.lookup_email(email)
        if user_id is None:
            raise UnknownRecipient(
                f"No Slack user has the email of researcher `{handle}`: ask "
                f"them to run `/exp link {handle}`, then retry with "
                "`expbot outbox retry ID`."
            )
        logger.info("found Slack user %s for researcher %s by email", user_id, handle)
        return user_id
