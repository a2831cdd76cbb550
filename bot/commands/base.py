"""What every `/exp` subcommand receives and returns.

Handlers are plain functions from a `CommandContext` and the argument text
to a `Reply`, so the same code serves HTTP requests, the Socket Mode
connection and `expbot shell`. A handler raises `tracker.errors` exceptions for bad
input; the router turns them into a short reply.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from slack_sdk.models.blocks import Block

from tracker.errors import InvalidInput

if TYPE_CHECKING:
    from slack_sdk import WebClient

    from bot.settings import Settings
    from tracker import Tracker


@dataclass
class CommandContext:
    tracker: Tracker
    settings: Settings
    user_id: str  # Slack user id, e.g. U012AB3CD; the shell makes one up
    handle: str  # the researcher handle the user is linked to
    is_admin: bool
    channel_id: str
    team: str | None = None  # the user's team, when known from the people table
    client: WebClient | None = None  # None in `expbot shell`
    # True when the reply will be posted to a channel. Reads then return
    # only team-visible experiments, whatever the user may see.
    public: bool = False
    # Mentions of channels and groups in the Slack text, such as `@here`.
    # The plain argument text cannot distinguish them from people.
    group_mentions: tuple[str, ...] = ()

    @property
    def viewer(self) -> str:
        """Return the `viewer` to pass to tracker reads."""
        return CHANNEL_VIEWER if self.public else self.handle


# A viewer that no handle can equal, so reads return team-visible experiments.
CHANNEL_VIEWER = "#channel"


class UsageError(InvalidInput):
    """Arguments that do not fit a subcommand; the router adds its usage."""


@dataclass
class Reply:
    """A reply: Block Kit blocks plus the fallback text Slack requires."""

    text: str
    blocks: list[Block] = field(default_factory=list)
    # "ephemeral" shows the reply to the user only; "in_channel" to everyone.
    response_type: str = "ephemeral"
    # Whether to offer a "Post to channel" button under an ephemeral answer.
    shareable: bool = True
    # Extra messages sent after the first, e.g. the pages of a long list.
    followups: list[Reply] = field(default_factory=list)
    # Set on replies that report an error, which are never posted to a channel.
    error: bool = False

    def to_payload(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "blocks": [block.to_dict() for block in self.blocks],
            "response_type": self.response_type,
        }


Handler = Callable[[CommandContext, str], Reply]


# Examples in help texts write `ID` where an experiment id goes.
ID_HINT = (
    "`ID` is an experiment's id, or any unique prefix of 6 or more of its "
    "characters such as `3f2a9c`, as `/exp search` shows it."
)


@dataclass(frozen=True)
class Command:
    name: str
    usage: str  # e.g. "search QUERY"
    summary: str  # one line for `/exp help`
    details: str  # several lines for `/exp help NAME`, with examples
    handler: Handler
    changes_data: bool = False


COMMANDS: dict[str, Command] = {}


def command(
    name: str, *, usage: str, summary: str, details: str, changes_data: bool = False
) -> Callable[[Handler], Handler]:
    """Register a subcommand handler under `name`."""

    def register(handler: Handler) -> Handler:
        if name in COMMANDS:
            raise RuntimeError(f"subcommand {name!r} is registered twice")
        COMMANDS[name] = Command(name, usage, summary, details, handler, changes_data)
        return handler

    return register
