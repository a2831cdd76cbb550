"""Read commands on a SQLite path with no file fail and create nothing."""

from __future__ import annotations

import pytest

from tracker import Tracker
from tracker.errors import DatabaseNotFound

READ_COMMANDS = [
    ["search", "tag:nlp"],
    ["show", "3f2a9c00"],
    ["compare", "3f2a9c00", "4b3c2d11"],
    ["leaderboard", "accuracy"],
    ["summary"],
    ["history", "3f2a9c00"],
    ["config", "3f2a9c00"],
    ["metric"],
    ["metric", "accuracy"],
    ["people", "list"],
    ["outbox"],
    ["outbox", "list"],
    ["report", "--team", "nlp", "--month", "2026-11"],
]


@pytest.fixture
def expbot(run_expbot):
    return run_expbot


@pytest.mark.parametrize("command", READ_COMMANDS, ids=" ".join)
def test_read_command_missing_file(expbot, tmp_path, command):
    path = tmp_path / "typo" / "dir" / "expbot.db"

    status, out, error = expbot("--database-url", f"sqlite:///{path}", *command)

    assert status == 1
    assert out == ""
    assert error.startswith(f"expbot: No database at '{path}'.")
    assert "`expbot db upgrade`" in error
    assert "Traceback" not in error
    assert not (tmp_path / "typo").exists()


def test_read_command_mistyped_file(expbot, tmp_path):
    expbot("--database-url", f"sqlite:///{tmp_path / 'expbot.db'}", "db", "upgrade")
    mistyped = tmp_path / "exbpot.db"

    status, _, error = expbot("--database-url", f"sqlite:///{mistyped}", "search")

    assert status == 1
    assert f"No database at '{mistyped}'" in error
    assert not mistyped.exists()


@pytest.mark.parametrize(
    "command", [["db", "upgrade"], ["track", "bert-base"]], ids=" ".join
)
def test_write_command_creates_file(expbot, tmp_path, command):
    path = tmp_path / "new" / "expbot.db"

    status, _, error = expbot("--database-url", f"sqlite:///{path}", *command)

    assert status == 0, error
    assert path.exists()


def test_read_after_create_succeeds(expbot, tmp_path):
    url = f"sqlite:///{tmp_path / 'expbot.db'}"
    expbot("--database-url", url, "track", "bert-base")

    status, out, _ = expbot("--database-url", url, "search")

    assert status == 0
    assert "bert-base" in out


def test_tracker_without_create_raises(tmp_path):
    path = tmp_path / "expbot.db"

    with pytest.raises(DatabaseNotFound) as raised:
        Tracker(f"sqlite:///{path}", create=False)

    assert raised.value.path == str(path)
    assert not path.exists()


def test_tracker_without_create_opens_existing(database_url):
    Tracker(database_url).close()

    tracker = Tracker(database_url, create=False)

    assert tracker.search("") == []
    tracker.close()
