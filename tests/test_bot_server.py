"""The WSGI app of `expbot serve --http`: routing and the health check."""

from __future__ import annotations

import io
import json
import logging
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import create_app
from bot.request_checks import (
    LOG_INTERVAL_SECONDS,
    MAX_BODY_BYTES,
    Rejection,
    RequestCheck,
)
from bot.server import HttpApp
from bot.settings import Settings
from tests.fakeslack.signing import sign_request
from tracker import Tracker

SIGNING_SECRET = "test-signing-secret"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def tracker(home: Path) -> Iterator[Tracker]:
    instance = Tracker(f"sqlite:///{home / 'expbot.db'}")
    yield instance
    instance.close()


@pytest.fixture
def wsgi(tracker: Tracker, home: Path) -> HttpApp:
    settings = Settings(bot_token="xoxb-1", signing_secret=SIGNING_SECRET, home=home)
    return HttpApp(create_app(settings, tracker), tracker, SIGNING_SECRET)


def call(
    app: HttpApp,
    method: str,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> tuple[str, dict[str, Any]]:
    seen: dict[str, str] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        seen["status"] = status

    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        "CONTENT_LENGTH": str(len(body)),
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.input": io.BytesIO(body),
    }
    for name, value in (headers or {}).items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    reply = b"".join(app(environ, start_response))
    return seen["status"], json.loads(reply)


def signed(body: bytes, timestamp: int | None = None) -> dict[str, str]:
    return sign_request(SIGNING_SECRET, body, timestamp)


def test_healthz_ok_with_database(wsgi: HttpApp) -> None:
    assert call(wsgi, "GET", "/healthz") == ("200 OK", {"ok": True, "database": "ok"})


def test_healthz_503_without_database(
    wsgi: HttpApp, tracker: Tracker, home: Path
) -> None:
    tracker.db.engine.dispose()
    shutil.rmtree(home)
    status, body = call(wsgi, "GET", "/healthz")
    assert status == "503 Service Unavailable"
    assert body == {"ok": False, "database": "unavailable"}


def test_events_path_needs_post(wsgi: HttpApp) -> None:
    assert call(wsgi, "GET", "/slack/events")[0] == "405 Method Not Allowed"


def test_unknown_path_is_404(wsgi: HttpApp) -> None:
    assert call(wsgi, "GET", "/admin")[0] == "404 Not Found"


@pytest.mark.parametrize("body", [b"payload=%7Bnot json", b"\xff\xfe", b""])
def test_unsigned_event_is_401(wsgi: HttpApp, body: bytes) -> None:
    assert call(wsgi, "POST", "/slack/events", body)[0] == "401 Unauthorized"


@pytest.mark.parametrize(
    ("timestamp", "signature"),
    [("abc", "v0=00"), ("\u0661\u0662", "v0=00"), ("1", "v0=00"), ("", "v0=00")],
)
def test_bad_timestamp_is_401(wsgi: HttpApp, timestamp: str, signature: str) -> None:
    headers = {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature}
    status, _ = call(wsgi, "POST", "/slack/events", b"text=help", headers)
    assert status == "401 Unauthorized"


def test_forged_signature_is_401(wsgi: HttpApp) -> None:
    body = b"command=%2Fexp&text=help"
    headers = sign_request("another-secret", body)
    assert call(wsgi, "POST", "/slack/events", body, headers)[0] == "401 Unauthorized"


@pytest.mark.parametrize(
    "body",
    [
        b"payload=%7Bnot json",
        b"\xff\xfe\x00",
        b"payload=" + b"%5B" * 5000,
        b"payload=%5B1%5D",
        b"{not json",
    ],
)
def test_signed_malformed_body_is_400(wsgi: HttpApp, body: bytes) -> None:
    status, _ = call(wsgi, "POST", "/slack/events", body, signed(body))
    assert status == "400 Bad Request"


def test_oversized_body_is_413(wsgi: HttpApp) -> None:
    body = b"a=" + b"b" * MAX_BODY_BYTES
    status, _ = call(wsgi, "POST", "/slack/events", body, signed(body))
    assert status == "413 Content Too Large"


def test_rejection_log_omits_body(
    wsgi: HttpApp, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="bot.request_checks"):
        call(wsgi, "POST", "/slack/events", b"payload=%7Bsecret-marker")
    assert len(caplog.records) == 1
    assert "secret-marker" not in caplog.text
    assert "no Slack signature headers" in caplog.text


def test_rejection_log_is_rate_limited(caplog: pytest.LogCaptureFixture) -> None:
    now = [1000.0]
    check = RequestCheck(SIGNING_SECRET, monotonic=lambda: now[0])
    rejection = Rejection("401 Unauthorized", "invalid signature")
    with caplog.at_level(logging.WARNING, logger="bot.request_checks"):
        for _ in range(5):
            check.log_rejection(rejection, "10.0.0.9", 12)
        now[0] += LOG_INTERVAL_SECONDS
        check.log_rejection(rejection, "10.0.0.9", 12)
    assert len(caplog.records) == 2
    assert "4 more rejected" in caplog.records[1].getMessage()


def test_signed_request_passes_check() -> None:
    check = RequestCheck(SIGNING_SECRET)
    body = b"command=%2Fexp&text=help"
    headers = {name.lower(): value for name, value in signed(body).items()}
    form = "application/x-www-form-urlencoded"
    assert check.check(headers, body, form) is None


def test_stale_signed_request_is_rejected() -> None:
    check = RequestCheck(SIGNING_SECRET)
    body = b"command=%2Fexp&text=help"
    stale = signed(body, timestamp=int(time.time()) - 6 * 60)
    headers = {name.lower(): value for name, value in stale.items()}
    rejection = check.check(headers, body, "application/x-www-form-urlencoded")
    assert rejection is not None
    assert rejection.status == "401 Unauthorized"
