"""Reading requests and writing replies in the shapes Slack uses."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl

from tests.fakeslack.faults import Fault

# (HTTP status, JSON object or plain text body, extra headers)
Reply = tuple[int, dict[str, Any] | str, dict[str, str]]
# The status of a reply that is never sent: the connection is closed.
DROPPED = 0


def bearer_token(headers: dict[str, str]) -> str | None:
    for name, value in headers.items():
        if name.lower() == "authorization" and value.startswith("Bearer "):
            return value.removeprefix("Bearer ").strip()
    return None


def parse_json_object(body: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(body or b"{}")
    except json.JSONDecodeError:
        return {"_invalid_json": body.decode("utf-8", "replace")}
    return parsed if isinstance(parsed, dict) else {"_json": parsed}


def parse_params(query: str, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    """Merge query string and body parameters, as Slack accepts both."""
    params: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    content_type = next(
        (v for k, v in headers.items() if k.lower() == "content-type"), ""
    )
    media_type = content_type.split(";")[0].strip().lower()
    if media_type == "application/json":
        params.update(parse_json_object(body))
    elif body:
        params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    return params


def error_reply(
    error: str,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **fields: Any,
) -> Reply:
    """Build an `{"ok": false, "error": ...}` reply with any extra fields."""
    return status, {"ok": False, "error": error, **fields}, headers or {}


def fault_reply(fault: Fault) -> Reply:
    headers: dict[str, str] = {}
    if fault.retry_after is not None:
        headers["Retry-After"] = str(fault.retry_after)
    if fault.body is not None:
        return fault.status, fault.body, headers
    return error_reply(
        fault.error or "fatal_error", status=fault.status, headers=headers
    )


def send_reply(
    handler: BaseHTTPRequestHandler,
    status: int,
    reply: dict[str, Any] | str,
    headers: dict[str, str],
) -> None:
    if isinstance(reply, str):
        payload = reply.encode("utf-8")
        content_type = "text/plain; charset=utf-8"
    else:
        payload = json.dumps(reply).encode("utf-8")
        content_type = "application/json; charset=utf-8"
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(payload)))
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(payload)
