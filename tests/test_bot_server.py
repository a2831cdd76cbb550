"""The WSGI app of `expbot serve --http`: routing and the health check."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import create_app
from bot.server import HttpApp
from bot.settings import Settings
from tracker import Tracker


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
    settings = Settings(bot_token="xoxb-1", signing_secret="s", home=home)
    return HttpApp(create_app(settings, tracker), tracker)


def call(app: HttpApp, method: str, path: str) -> tuple[str, dict[str, Any]]:
    seen: dict[str, str] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        seen["status"] = status

    environ = {"REQUEST_METHOD": method, "PATH_INFO": path}
    body = b"".join(app(environ, start_response))
    return seen["status"], json.loads(body)


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
