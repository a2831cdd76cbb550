"""The `/exp` subcommands: importing this package registers every handler.

Each module registers its handlers in `bot.commands.base.COMMANDS` with the
`@command` decorator when imported, so the router and `expbot shell` import
this package once and find them all there.
"""

from bot.commands import (
    experiments,
    help,
    people,
    schedules,
    search,
    subscriptions,
)
from bot.commands.base import COMMANDS, Command, CommandContext, Reply, UsageError

__all__ = [
    "COMMANDS",
    "Command",
    "CommandContext",
    "Reply",
    "UsageError",
    "experiments",
    "help",
    "people",
    "schedules",
    "search",
    "subscriptions",
]
