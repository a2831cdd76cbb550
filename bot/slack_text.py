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

# One `<...>` token; Slack escapes `<` and `>` inside it as entities.
_TOKEN = re.compile(r"<([^<>]*)>")
_USER_ID = re.compile(r"^[UW][A-Z0-9]+$")


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


def split_words(text: str) -> list[str]:
    """Split on whitespace, keeping double-quoted phrases whole with quotes."""
    return re.findall(r'"[^"]*"?|\S+', text)
