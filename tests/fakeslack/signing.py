"""Sign requests as Slack does and send them to a Bolt HTTP endpoint.

Slack's v0 signature is `"v0=" + hex(HMAC-SHA256(signing_secret,
"v0:" + timestamp + ":" + raw_body))`, sent in `X-Slack-Signature` with the
Unix timestamp in `X-Slack-Request-Timestamp`. Bolt rejects a timestamp
more than five minutes away from its clock.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
JSON_CONTENT_TYPE = "application/json"


def sign_request(
    signing_secret: str, body: str | bytes, timestamp: int | None = None
) -> dict[str, str]:
    """Return the X-Slack-Signature and X-Slack-Request-Timestamp headers."""
    if timestamp is None:
        timestamp = int(time.time())
    raw_body = body.encode("utf-8") if isinstance(body, str) else body
    base_string = f"v0:{timestamp}:".encode() + raw_body
    digest = hmac.new(signing_secret.encode(), base_string, hashlib.sha256).hexdigest()
    return {
        "X-Slack-Signature": f"v0={digest}",
        "X-Slack-Request-Timestamp": str(timestamp),
    }


def signed_headers(
    signing_secret: str,
    body: str | bytes,
    content_type: str = FORM_CONTENT_TYPE,
    timestamp: int | None = None,
    retry_num: int | None = None,
) -> dict[str, str]:
    """Return every header Slack sends with a command, action or event.

    `retry_num` adds `X-Slack-Retry-Num`, which Slack sends when it repeats
    a request that was not acknowledged within 3 seconds.
    """
    headers = {"Content-Type": content_type, "User-Agent": "Slackbot 1.0 (+fake)"}
    headers.update(sign_request(signing_secret, body, timestamp))
    if retry_num is not None:
        headers["X-Slack-Retry-Num"] = str(retry_num)
        headers["X-Slack-Retry-Reason"] = "http_timeout"
    return headers


@dataclass(frozen=True)
class HttpReply:
    status: int
    headers: dict[str, str]
    body: str


def post_signed(
    url: str,
    body: str,
    signing_secret: str,
    *,
    content_type: str = FORM_CONTENT_TYPE,
    timestamp: int | None = None,
    retry_num: int | None = None,
    timeout: float = 10.0,
) -> HttpReply:
    """POST a signed body to a Bolt endpoint that the test started on loopback.

    Returns the reply for any HTTP status, so tests can assert on 401s.
    """
    headers = signed_headers(signing_secret, body, content_type, timestamp, retry_num)
    request = urllib.request.Request(
        url, data=body.encode("utf-8"), headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            text = response.read().decode("utf-8")
            return HttpReply(response.status, dict(response.headers.items()), text)
    except urllib.error.HTTPError as exc:
        text = exc.read().decode("utf-8")
        return HttpReply(exc.code, dict(exc.headers.items()), text)
