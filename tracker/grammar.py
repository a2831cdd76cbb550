"""Counted nouns for messages: "1 experiment", "2 experiments", "3 deliveries"."""

from __future__ import annotations

_SIBILANT_ENDINGS = ("s", "x", "z", "ch", "sh")


def plural(count: int, word: str, many: str | None = None) -> str:
    """Return `count` and `word`, in the plural unless `count` is 1.

    The plural is `many` when given, else the regular English form of
    `word`: "entry" becomes "entries", "match" becomes "matches".
    """
    if count == 1:
        return f"{count} {word}"
    return f"{count} {many or plural_form(word)}"


def plural_form(word: str) -> str:
    """Return the regular English plural of `word`."""
    if word.endswith("y") and word[-2:-1] not in ("", *"aeiou"):
        return word[:-1] + "ies"
    if word.endswith(_SIBILANT_ENDINGS):
        return word + "es"
    return word + "s"
