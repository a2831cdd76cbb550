"""Checks on user-supplied values, each raising an error that names the value."""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
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

MAX_METRICS_PER_CALL = 1000
# Points (values over all steps) that one batch call may log. A training
# loop that buffers writes every few hundred steps stays far below it.
MAX_POINTS_PER_BATCH = 100_000
# Steps are stored as 64-bit signed integers.
MAX_STEP = 2**63 - 1

# C0 and C1 control characters. Names and tags take none; free text keeps
# tab and newline. Terminal escapes in a name would otherwise reach other
# users' terminals through `expbot search`.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_TEXT_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_TAG = re.compile(r"^[\w.+/:-]+$")
_METRIC_NAME = re.compile(r"^[A-Za-z_][\w./@-]*$")
_HANDLE = re.compile(r"^[\w.@+-]+$")
_LABEL = re.compile(r"^[\w.+/ -]*$")


def _short(value: str, limit: int = 40) -> str:
    return value if len(value) <= limit else value[:limit] + "..."


def clean_text(value: str, field: str, allow_newlines: bool = False) -> str:
    """Reject control characters and text that is not valid Unicode."""
    pattern = _TEXT_CONTROL if allow_newlines else _CONTROL
    found = pattern.search(value)
    if found:
        raise InvalidInput(
            f"The {field} {_short(value)!r} contains the control character "
            f"{found.group()!r} at position {found.start() + 1}; remove it."
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInput(
            f"The {field} {_short(value)!r} is not valid Unicode at position "
            f"{exc.start + 1}; check the terminal's or file's encoding (UTF-8)."
        ) from None
    return value


def name(value: str) -> str:
    if not isinstance(value, str):
        raise InvalidInput(
            f"The experiment name must be text, not {type(value).__name__}."
        )
    text = clean_text(value.strip(), "experiment name")
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
    return clean_text(value, field, allow_newlines=True)


def note(value: str) -> str:
    text = text_field(value, "note", MAX_NOTE_CHARS).strip()
    if not text:
        raise InvalidInput("The note is empty: write the note's text.")
    return text


def handle(value: str, field: str = "researcher") -> str:
    text = value.strip().lstrip("@") if isinstance(value, str) else ""
    if not text or len(text) > MAX_HANDLE_CHARS or not _HANDLE.fullmatch(text):
        raise InvalidInput(
            f"Invalid {field} {_short(value or '')!r}: use a user name of letters, "
            "digits and . _ - + @, e.g. `alice`."
        )
    return text


def label(value: str, field: str) -> str:
    """Check a team or project name."""
    text = value.strip() if isinstance(value, str) else "\x00"
    if len(text) > MAX_HANDLE_CHARS or not _LABEL.fullmatch(text):
        raise InvalidInput(
            f"Invalid {field} {_short(value)!r}: use letters, digits, spaces "
            "and . _ - + / only."
        )
    return text


def as_list(values: Iterable[str] | str) -> list[str]:
    """Treat a lone string as one item, not as its characters."""
    if isinstance(values, str):
        return [values]
    return list(values)


def tags(values: Iterable[str] | str) -> list[str]:
    result = []
    for value in as_list(values):
        tag = value.strip() if isinstance(value, str) else ""
        if not tag or len(tag) > MAX_TAG_CHARS or not _TAG.fullmatch(tag):
            raise InvalidInput(
                f"Invalid tag {_short(value or '')!r}: use up to {MAX_TAG_CHARS} "
                "letters, digits and . _ - + / : with no spaces."
            )
        if tag not in result:
            result.append(tag)
    return result


def metric_name(value: str) -> str:
    if isinstance(value, str) and len(value) > MAX_METRIC_NAME_CHARS:
        raise InvalidInput(
            f"Metric name {_short(value)!r} has {len(value)} characters; use "
            f"at most {MAX_METRIC_NAME_CHARS}."
        )
    if not isinstance(value, str) or not _METRIC_NAME.fullmatch(value):
        raise InvalidInput(
            f"Invalid metric name {_short(str(value))!r}: start with a letter and "
            "use letters, digits and . _ - / @, e.g. `val/loss`."
        )
    return value


def metric_value(key: str, value: Any) -> float:
    """Convert a metric value to float, rejecting bool, NaN and infinity.

    Decimal is accepted beside numbers.Real, because the standard library
    registers it only as numbers.Number.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real | Decimal | str):
        raise InvalidInput(
            f"Metric `{key}` value {_short(repr(value))} is not a number; "
            "log numbers only, e.g. accuracy=0.91."
        )
    try:
        number = float(value)
    except OverflowError:
        raise _too_large(key, value) from None
    except (TypeError, ValueError):
        raise InvalidInput(
            f"Metric `{key}` value {_short(repr(value))} is not a number; "
            "log numbers only, e.g. accuracy=0.91."
        ) from None
    # float() turns a finite Decimal beyond the float range into infinity
    # instead of raising OverflowError as int and Fraction do.
    if isinstance(value, Decimal) and value.is_finite() and not math.isfinite(number):
        raise _too_large(key, value)
    if not math.isfinite(number):
        raise InvalidInput(
            f"Metric `{key}` value {value!r} is not finite; NaN and infinity "
            "cannot be compared, so log them as a note or fail the run."
        )
    return number


def _too_large(key: str, value: Any) -> InvalidInput:
    return InvalidInput(
        f"Metric `{key}` value {_short(str(value))} is too large for a "
        "64-bit float; log it in other units."
    )


def metrics(values: Mapping[str, Any]) -> dict[str, float]:
    if not isinstance(values, Mapping):
        raise InvalidInput(
            f"Metrics must be a mapping of names to numbers, not "
            f"{type(values).__name__}."
        )
    if len(values) > MAX_METRICS_PER_CALL:
        raise InvalidInput(
            f"{len(values)} metrics in one call; log at most "
            f"{MAX_METRICS_PER_CALL} at a time."
        )
    return {metric_name(k): metric_value(k, v) for k, v in values.items()}


def step(value: int | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidInput(f"Invalid step {value!r}: use a whole number >= 0.")
    if value < 0 or value > MAX_STEP:
        raise InvalidInput(
            f"Invalid step {value!r}: use a whole number from 0 to {MAX_STEP}."
        )
    return int(value)


def metric_steps(
    steps: Iterable[tuple[Any, Mapping[str, Any]]],
) -> list[tuple[int | None, dict[str, float]]]:
    """Check a batch of `(step, {metric: value})` pairs, keeping their order."""
    if isinstance(steps, str | bytes | Mapping) or not isinstance(steps, Iterable):
        raise InvalidInput(
            f"A metric batch must be a list of (step, metrics) pairs, not "
            f"{type(steps).__name__}; e.g. [(1, {{'loss': 0.5}})]."
        )
    checked: list[tuple[int | None, dict[str, float]]] = []
    points = 0
    for index, pair in enumerate(steps):
        if not isinstance(pair, tuple | list) or len(pair) != 2:
            raise InvalidInput(
                f"Batch entry {index} is {_short(repr(pair))}; each entry must be "
                "a (step, metrics) pair, e.g. (1, {'loss': 0.5})."
            )
        try:
            checked.append((step(pair[0]), metrics(pair[1])))
        except InvalidInput as exc:
            raise InvalidInput(f"Batch entry {index}: {exc}") from None
        points += len(checked[-1][1])
        if points > MAX_POINTS_PER_BATCH:
            raise InvalidInput(
                f"The metric batch has more than {MAX_POINTS_PER_BATCH} points; "
                "split it into several calls."
            )
    return checked


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
    uri = value.strip() if isinstance(value, str) else ""
    if not uri or len(uri) > MAX_ARTIFACT_CHARS:
        raise InvalidInput(
            f"Invalid artifact URI {_short(value or '')!r}: give a path or URI "
            f"of up to {MAX_ARTIFACT_CHARS} characters."
        )
    return uri
