"""Email addresses of people: the check that a typed address is usable.

An address decides which Slack user may take an unlinked person, so a
typo must fail loudly instead of linking no one.
"""

from __future__ import annotations

from tracker import validation
from tracker.errors import InvalidInput

# RFC 5321 (section 4.5.3.1) limits a local part to 64 octets and a path,
# which is an address in angle brackets, to 256 octets.
MAX_OCTETS = 254
MAX_LOCAL_OCTETS = 64
FORM = "write it as NAME@DOMAIN, e.g. alice@example.com"


def address(value: str) -> str:
    """Check an email address; return it trimmed and lower-cased.

    Raises InvalidInput that names the value and the fix.
    """
    text = validation.clean_text(value.strip(), "email address").lower()
    if not text:
        raise InvalidInput(f"The email address is empty: {FORM}.")
    if any(char.isspace() for char in text):
        raise InvalidInput(
            f"The email address {_shown(text)!r} contains a space: {FORM}."
        )
    if "@" not in text:
        raise InvalidInput(f"The email address {_shown(text)!r} has no @: {FORM}.")
    if text.count("@") > 1:
        raise InvalidInput(
            f"The email address {_shown(text)!r} has {text.count('@')} @ signs "
            f"instead of one: {FORM}."
        )

    local, _, domain = text.partition("@")
    if not local or not domain:
        missing = "name before" if not local else "domain after"
        raise InvalidInput(
            f"The email address {_shown(text)!r} has no {missing} the @: {FORM}."
        )

    local_octets = len(local.encode("utf-8"))
    if local_octets > MAX_LOCAL_OCTETS:
        raise InvalidInput(
            f"The email address {_shown(text)!r} has {local_octets} bytes before "
            f"the @, and RFC 5321 allows {MAX_LOCAL_OCTETS}: check that it is "
            "the right address."
        )

    octets = len(text.encode("utf-8"))
    if octets > MAX_OCTETS:
        raise InvalidInput(
            f"The email address {_shown(text)!r} has {octets} bytes, and RFC "
            f"5321 allows {MAX_OCTETS}: check that it is the right address."
        )

    return text


def _shown(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit] + "..."
