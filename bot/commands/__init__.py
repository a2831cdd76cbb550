"""The `/exp` subcommands: importing this package registers every handler.

Each module registers its handlers in `bot.commands.base.COMMANDS` with the
`@command` decorator when imported, so the router and `expbot shell` import
this package once and find them all there.
"""

from bot.commands import experiments, help, people, search
from bot.commands.base import COMMANDS, Command, CommandContext, Reply, UsageError

# TODO: import these directly once the notification and report helpers'
# modules exist; until then their subcommands are missing.
try:
    from bot.commands import subscriptions
except ImportError:
    subscriptions = None  # type: ignore[assignment]
try:
    from bot.commands import schedules
except ImportError:
    schedules = None  # type: ignore[assignment]

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
