"""Errors raised by the tracker.

    ExpbotError
     +-- ExperimentNotFound      no experiment has that id or prefix
     +-- AmbiguousId             a prefix matches several experiments
     +-- InvalidInput            a value is malformed or out of range
     |    +-- InvalidQuery       search text that does not parse
     |    +-- InvalidConfig      a config file or mapping that cannot be used
     +-- InvalidTransition       a lifecycle change not allowed from the status
     +-- PermissionDenied        the actor may not change or see the experiment
     +-- NotInTrackedTask        `current()` called outside a tracked launch
     +-- StorageError            the database failed or could not be reached
     +-- DatabaseNotFound        a read found no SQLite file at the path

Every message names the offending value and what to do instead, so the
CLI and the bot can show it as is. Storage code converts SQLAlchemy
errors into `StorageError`, chained with `from exc`.
"""

from __future__ import annotations

from collections.abc import Sequence


class ExpbotError(Exception):
    """Base class of every error the tracker raises on purpose."""

    #: Exit status the CLI uses: 1 for not found or invalid, 2 for usage.
    exit_status = 1


class ExperimentNotFound(ExpbotError):
    def __init__(self, identifier: str) -> None:
        self.identifier = identifier
        super().__init__(
            f"No experiment `{identifier}`. Search for it with `expbot search` "
            "or `/exp search`."
        )


class AmbiguousId(ExpbotError):
    """An id prefix that matches more than one experiment.

    `candidates` contains some of the matching ids for callers of the Python
    API. The message names none of them, because it reaches Slack and the
    CLI, and some candidates may be private experiments of other people.
    """

    def __init__(self, prefix: str, candidates: Sequence[str]) -> None:
        self.prefix = prefix
        self.candidates = list(candidates)
        super().__init__(
            f"Id prefix `{prefix}` matches more than one experiment. Type more "
            "characters of the id, or copy it from `search`."
        )


class InvalidInput(ExpbotError):
    pass


class InvalidQuery(InvalidInput):
    """A search query that does not parse.

    `position` is the 0-based character offset of the problem in `text`,
    and `expected` names what the parser was looking for there.
    """

    def __init__(self, text: str, position: int, expected: str) -> None:
        self.text = text
        self.position = position
        self.expected = expected
        found = text[position : position + 20] if position < len(text) else ""
        where = f"`{found}`" if found else "the end of the query"
        super().__init__(
            f"Invalid query at position {position + 1} ({where}): "
            f"expected {expected}. See the search syntax: `/exp help search` "
            "or `expbot search --help`."
        )


class InvalidConfig(InvalidInput):
    pass


class InvalidTransition(ExpbotError):
    def __init__(self, identifier: str, status: str, action: str) -> None:
        self.identifier = identifier
        self.status = status
        self.action = action
        super().__init__(
            f"Cannot {action} experiment `{identifier}`: it is already {status}. "
            "Only a running experiment can be completed, failed or cancelled."
        )


class PermissionDenied(ExpbotError):
    pass


class NotInTrackedTask(ExpbotError):
    pass


class StorageError(ExpbotError):
    pass


class DatabaseNotFound(ExpbotError):
    """A SQLite database file that a read-only caller expected to exist."""

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(
            f"No database at {path!r}. Check the path in --database-url, "
            "$EXPBOT_DATABASE_URL or $EXPBOT_HOME. To create the database, run "
            "`expbot db upgrade` or record a first experiment with `expbot track NAME`."
        )
