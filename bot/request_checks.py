"""Checks on a request to `POST /slack/events` before Bolt reads it.

Bolt verifies Slack's signature too, but only after it has decoded and
parsed the body, and a timestamp that is not a number makes the SDK's
verifier raise. Anyone who can reach the port could then get a 500 and a
logged traceback for each request. So the WSGI app checks the signature
here first and rejects what fails with 401, or with 400 a signed body
that Bolt could not parse, and logs one WARNING line without the body.
Repeated rejections are counted and logged at most once a minute.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl

from slack_sdk.signature import Clock, SignatureVerifier

logger = logging.getLogger(__name__)

# Slack's documented limit on the age of a request's timestamp.
MAX_AGE_SECONDS = 5 * 60
# NOTE: Slack documents no maximum request size; its messages, views and
# events are tens of kilobytes at most, so 1 MiB leaves a wide margin.
MAX_BODY_BYTES = 1024 * 1024
LOG_INTERVAL_SECONDS = 60.0


class _FunctionClock(Clock):
    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now

    def now(self) -> float:
        return self._now()


@dataclass(frozen=True)
class Rejection:
    status: str  # e.g. "401 Unauthorized"
    reason: str  # for the log; never contains the body


class RequestCheck:
    """Verifies a request's signature and timestamp, and that its body parses."""

    def __init__(
        self,
        signing_secret: str,
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self._verifier = SignatureVerifier(signing_secret, _FunctionClock(clock))
        self._monotonic = monotonic
        self._next_log = 0.0
        self._unlogged = 0

    def check(
        self, headers: Mapping[str, str], body: bytes, content_type: str
    ) -> Rejection | None:
        """Return why to reject the request, or None to pass it to Bolt.

        `headers` are the request's headers with lower-case names.
        """
        timestamp = headers.get("x-slack-request-timestamp", "")
        signature = headers.get("x-slack-signature", "")
        if not timestamp or not signature:
            return Rejection("401 Unauthorized", "no Slack signature headers")
        if not (timestamp.isascii() and timestamp.isdigit()):
            return Rejection("401 Unauthorized", "timestamp is not a number")
        if abs(self._clock() - int(timestamp)) > MAX_AGE_SECONDS:
            return Rejection("401 Unauthorized", "timestamp more than 5 minutes off")
        try:
            # Slack sends UTF-8, and the SDK's verifier decodes the body so.
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return Rejection("400 Bad Request", "body is not UTF-8")
        if not self._verifier.is_valid(text, timestamp, signature):
            return Rejection("401 Unauthorized", "invalid signature")
        if not parses_as_bolt_reads(text, content_type):
            return Rejection("400 Bad Request", "signed body does not parse")
        return None

    def log_rejection(self, rejection: Rejection, remote: str, size: int) -> None:
        """Log one WARNING line, or count it when one was logged within a minute.

        Waitress calls this from several threads; a lost count is harmless.
        """
        now = self._monotonic()
        if now < self._next_log:
            self._unlogged += 1
            return
        earlier = (
            f" ({self._unlogged} more rejected since the last such line)"
            if self._unlogged
            else ""
        )
        logger.warning(
            "rejected request from %s to /slack/events (%d bytes): %s, %s%s",
            remote or "unknown address",
            size,
            rejection.status,
            rejection.reason,
            earlier,
        )
        self._next_log = now + LOG_INTERVAL_SECONDS
        self._unlogged = 0


def parses_as_bolt_reads(text: str, content_type: str) -> bool:
    """Return whether Bolt can parse the body `text` into a JSON object.

    Bolt (1.30, `slack_bolt.request.internals.parse_body`) reads JSON when
    the content type is `application/json` or the body starts with `{`,
    the JSON in a form's `payload` field when there is one, and other forms
    (slash commands) as fields.
    """
    try:
        if content_type == "application/json" or text.startswith("{"):
            return isinstance(json.loads(text), dict)
        if "payload" in text:
            payload = dict(parse_qsl(text, keep_blank_values=True)).get("payload")
            return payload is None or isinstance(json.loads(payload), dict)
    except (ValueError, RecursionError):
        return False
    return True
