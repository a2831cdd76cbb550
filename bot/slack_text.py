"""Slack's message formatting: parsing what users type and escaping echoes.

Slack sends slash command text with `&`, `<` and `>` escaped as entities,
and (with escaping on in the app manifest) mentions and links as `<...>`
tokens: `<@U123|name>`, `<#C123|name>`, `<!here>`, `<https://x|label>`.
Text that goes back into mrkdwn must be escaped again, because `<!channel>`
or `<@U123>` in user text would otherwise notify people.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from tracker.query import CLOSE_QUOTES, OPEN_QUOTES

# One `<...>` token; Slack escapes `<` and `>` inside it as entities.
_TOKEN = re.compile(r"<([^<>]*)>")
_USER_ID = re.compile(r"^[UW][A-Z0-9]+$")
# A quoted phrase as the search language reads it: an opening quote, then
# characters or backslash escapes, then a closing quote (missing at the end
# of an unclosed phrase). Slack clients may turn `"` into curly quotes.
_PHRASE = rf"[{OPEN_QUOTES}]((?:\\.|[^{CLOSE_QUOTES}\\])*)[{CLOSE_QUOTES}]?"
# A word is a run of quoted phrases and other non-space characters, so
# `team:"ml research"` is one word.
_WORD = re.compile(rf"(?:{_PHRASE}|[^\s{OPEN_QUOTES}])+", re.DOTALL)
_QUOTED = re.compile(_PHRASE, re.DOTALL)
# Inside a phrase a backslash escapes a backslash or a quote, as in searches.
_ESCAPED = re.compile(rf"\\([\\{OPEN_QUOTES}{CLOSE_QUOTES}])")
# Mentions of more than one person: `<!here>`, `<!channel>`, `<!everyone>`,
# a user group `<!subteam^S123|@ml>`, and a channel `<#C123|general>`.
_GROUP_SPECIALS = ("here", "channel", "everyone", "subteam^")


@dataclass(frozen=True)
class Token:
    """A parsed `<...>` token: kind is user, channel, special or link."""

    kind: str
    target: str  # user or channel id, special name, or URL
    label: str  # the text after `|`, may be empty


def escape(text: str) -> str:
    """Escape user text for mrkdwn so that it shows as typed and mentions no one."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    # `&amp;` last, so `&amp;lt;` becomes the literal `&lt;` the user typed.
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def code(text: str) -> str:
    """Format user text as inline code, escaped, with no way to close it early."""
    return "`" + escape(text.replace("`", "'")) + "`"


def parse_token(inner: str) -> Token:
    """Parse the inside of a `<...>` token."""
    target, _, label = inner.partition("|")
    if target.startswith("@"):
        return Token("user", target[1:], label)
    if target.startswith("#"):
        return Token("channel", target[1:], label)
    if target.startswith("!"):
        return Token("special", target[1:], label)
    return Token("link", target, label)


def mentioned_user_ids(text: str) -> list[str]:
    """Return the ids of users mentioned as `<@U...>`, in order, without repeats."""
    ids: list[str] = []
    for match in _TOKEN.finditer(text):
        token = parse_token(match.group(1))
        if token.kind == "user" and token.target not in ids:
            ids.append(token.target)
    return ids


def to_plain(text: str, handle_for: Callable[[str], str] | None = None) -> str:
    """Turn Slack-formatted text into what the user meant to type.

    A user mention becomes `@handle` (via `handle_for`, else the label or
    the id), a channel `#name`, a special mention such as `<!here>` the
    inert word `@here`, and a link its URL. Entities are unescaped last,
    so the result is plain text that must be escaped again for mrkdwn.
    """

    def replace(match: re.Match[str]) -> str:
        token = parse_token(match.group(1))
        if token.kind == "user":
            if handle_for is not None and _USER_ID.match(token.target):
                return "@" + handle_for(token.target)
            return "@" + (token.label.lstrip("@") or token.target)
        if token.kind == "channel":
            return "#" + (token.label or token.target)
        if token.kind == "special":
            if token.target.startswith("date^"):
                return token.label
            name = token.label.lstrip("@") or token.target.split("^")[0]
            return "@" + name
        return token.target.removeprefix("mailto:")

    return unescape(_TOKEN.sub(replace, text))


def group_mentions(text: str) -> list[str]:
    """Return the mentions of channels and groups in Slack-formatted text.

    Each is returned as shown to users, e.g. `@here`, `@ml-team` or `#general`.
    """
    found: list[str] = []
    for match in _TOKEN.finditer(text):
        token = parse_token(match.group(1))
        if token.kind == "channel":
            found.append("#" + (token.label or token.target))
        elif token.kind == "special" and token.target.startswith(_GROUP_SPECIALS):
            found.append("@" + (token.label.lstrip("@") or token.target.split("^")[0]))
    return found


def split_words(text: str) -> list[str]:
    """Split on whitespace, keeping quoted phrases whole with their quotes.

    Quotes may also sit inside a word, as in `team:"ml research"`.
    """
    return [match.group(0) for match in _WORD.finditer(text)]


def unquote(word: str) -> str:
    """Remove the quotes around the phrases in `word` and undo their escapes."""
    return _QUOTED.sub(lambda match: _ESCAPED.sub(r"\1", match.group(1)), word)


def split_first(text: str) -> tuple[str, str]:
    """Split off the first word at any whitespace, newlines included."""
    parts = text.split(maxsplit=1)
    if not parts:
        return "", ""
    return parts[0], parts[1] if len(parts) > 1 else ""
