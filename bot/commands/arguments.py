"""Parsing subcommand arguments: words, `key:value` options, ids, handles.

Handlers receive the text after the subcommand as plain text: the router
has already turned Slack's mentions into `@handle` and unescaped `&amp;`,
`&lt;` and `&gt;`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from bot.commands.base import CommandContext, UsageError
from bot.slack_text import split_words, unquote
from tracker import people

_OPTION = re.compile(r"^([a-z]+):(.*)$", re.DOTALL)


def words(args: str) -> list[str]:
    return split_words(args)


def take_options(
    items: Sequence[str], names: Iterable[str]
) -> tuple[dict[str, str], list[str]]:
    """Split `name:value` words for the given option names from the rest.

    Raises UsageError for an option given twice or with no value.
    """
    allowed = set(names)
    options: dict[str, str] = {}
    rest: list[str] = []
    for item in items:
        match = _OPTION.match(item)
        if match is None or match.group(1) not in allowed:
            rest.append(item)
            continue
        # `team:"ml research"` gives the team `ml research`.
        name, value = match.group(1), unquote(match.group(2))
        if not value:
            raise UsageError(f"Option `{name}:` needs a value, e.g. `{name}:nlp`.")
        if name in options:
            raise UsageError(f"Option `{name}:` is given twice; give it once.")
        options[name] = value
    return options, rest


def handle_word(word: str) -> str:
    """Return the handle in `@alice` or `alice`."""
    return word.strip().lstrip("@")


def slack_ids(ctx: CommandContext, handles: Iterable[str]) -> Mapping[str, str]:
    """Map handles to Slack user ids for mentions; empty outside Slack."""
    if ctx.client is None:
        return {}
    return people.slack_ids_for(ctx.tracker, handles)


def one_id(items: Sequence[str], what: str = "experiment id") -> str:
    if not items:
        raise UsageError(f"Give an {what}, e.g. `3f2a9c`; find one with `/exp search`.")
    return items[0]
