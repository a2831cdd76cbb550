"""Checks on user-supplied values, each raising an error that names the value."""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Iterable, Mapping
from typing import Any

from tracker.errors import InvalidInput
from tracker.models import SOURCES, VISIBILITIES

MAX_NAME_CHARS = 200
MAX_DESCRIPTION_CHARS = 10_000
MAX_NOTE_CHARS = 10_000
MAX_REASON_CHARS = 10_000
MAX_HANDLE_CHARS = 100
MAX_TAG_CHARS = 64
MAX_METRIC_NAME_CHARS = 200
MAX_ARTIFACT_CHARS = 2000

_TAG = re.compile(r"^[\w.+/:-]+$")
_METRIC_NAME = re.compile(r"^[A-Za-z_][\w./@-]*$")
_HANDLE = re.compile(r"^[\w.@+-]+$")
_LABEL = re.compile(r"^[\w.+/ -]*$")


def _short(value: str, limit: int = 40) -> str:
    return value if len(value) <= limit else value[:limit] + "..."


def name(value: str) -> str:
    text = (value or "").strip()
    if not text:
        raise InvalidInput("The experiment name is empty: give it a short name.")
    if len(text) > MAX_NAME_CHARS:
        raise InvalidInput(
            f"The experiment name {_short(text)!r} has {len(text)} characters; "
            f"the limit is {MAX_NAME_CHARS}. Put details in the description."
        )
    return text


def text_field(value: str, field: str, limit: int) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"The {field} must be text, not {type(value).__name__}.")
    if len(value) > limit:
        raise InvalidInput(
            f"The {field} {_short(value)!r} has {len(value)} characters; the "
            f"limit is {limit}. Attach long text as an artifact instead."
        )
    return value


def note(value: str) -> str:
    text = text_field(value, "note", MAX_NOTE_CHARS).strip()
    if not text:
        raise InvalidInput("The note is empty: write the note's text.")
    return text


def handle(value: str, field: str = "researcher") -> str:
    text = (value or "").strip().lstrip("@")
    if not text or len(text) > MAX_HANDLE_CHARS or not _HANDLE.match(text):
        raise InvalidInput(
            f"Invalid {field} {_short(value or '')!r}: use a user name of letters, "
            "digits and . _ - + @, e.g. `alice`."
        )
    return text


def label(value: str, field: str) -> str:
    """Check a team or project name."""
    text = (value or "").strip()
    if len(text) > MAX_HANDLE_CHARS or not _LABEL.match(text):
        raise InvalidInput(
            f"Invalid {field} {_short(value)!r}: use letters, digits, spaces "
            "and . _ - + / only."
        )
    return text


def tags(values: Iterable[str]) -> list[str]:
    result = []
    for value in values:
        tag = (value or "").strip()
        if not tag or len(tag) > MAX_TAG_CHARS or not _TAG.match(tag):
            raise InvalidInput(
                f"Invalid tag {_short(value or '')!r}: use up to {MAX_TAG_CHARS} "
                "letters, digits and . _ - + / : with no spaces."
            )
        if tag not in result:
            result.append(tag)
    return result


def metric_name(value: str) -> str:
    if (
        not isinstance(value, str)
        or len(value) > MAX_METRIC_NAME_CHARS
        or not _METRIC_NAME.match(value)
    ):
        raise InvalidInput(
            f"Invalid metric name {_short(str(value))!r}: start with a letter and "
            "use letters, digits and . _ - / @, e.g. `val/loss`."
        )
    return value


def metric_value(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real | str):
        raise InvalidInput(
            f"Metric `{key}` value {_short(repr(value))} is not a number; "
            "log numbers only, e.g. accuracy=0.91."
        )
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidInput(
            f"Metric `{key}` value {_short(repr(value))} is not a number; "
            "log numbers only, e.g. accuracy=0.91."
        ) from None
    if not math.isfinite(number):
        raise InvalidInput(
            f"Metric `{key}` value {value!r} is not finite; NaN and infinity "
            "cannot be compared, so log them as a note or fail the run."
        )
    return number


def metrics(values: Mapping[str, Any]) -> dict[str, float]:
    if not isinstance(values, Mapping):
        raise InvalidInput(
            f"Metrics must be a mapping of names to numbers, not "
            f"{type(values).__name__}."
        )
    return {metric_name(k): metric_value(k, v) for k, v in values.items()}


def step(value: int | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidInput(f"Invalid step {value!r}: use a whole number >= 0.")
    if value < 0 or value > 2**62:
        raise InvalidInput(f"Invalid step {value!r}: use a whole number >= 0.")
    return int(value)


def choice(value: str, field: str, allowed: Iterable[str]) -> str:
    allowed = tuple(allowed)
    if value not in allowed:
        raise InvalidInput(
            f"Invalid {field} {value!r}: use one of {', '.join(allowed)}."
        )
    return value


def visibility(value: str) -> str:
    return choice(value, "visibility", VISIBILITIES)


def source(value: str) -> str:
    return choice(value, "source", SOURCES)


def artifact(value: str) -> str:
    uri = (value or "").strip()
    if not uri or len(uri) > MAX_ARTIFACT_CHARS:
        raise InvalidInput(
            f"Invalid artifact URI {_short(value or '')!r}: give a path or URI "
            f"of up to {MAX_ARTIFACT_CHARS} characters."
        )
    return uri
