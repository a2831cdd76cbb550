"""The `expbot` entry point: the tracker's commands plus serve and shell."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import build_parser, main, subcommands
from tests.bot_server import REPO

CLEAN_ENV = {
    key: value
    for key, value in os.environ.items()
    if not key.startswith(("SLACK_", "EXPBOT_"))
}


def run_expbot(
    args: list[str], home: Path, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**CLEAN_ENV, "EXPBOT_HOME": str(home), **env},
        timeout=60,
        check=False,
    )


def test_parser_has_bot_and_tracker_commands() -> None:
    names = set(subcommands(build_parser()).choices)
    assert {"serve", "shell", "track", "search", "outbox", "report"} <= names


@pytest.mark.parametrize(
    ("argv", "mode"),
    [
        (["serve"], None),
        (["serve", "--http"], "http"),
        (["serve", "--socket"], "socket"),
    ],
)
def test_serve_mode_flags(argv: list[str], mode: str | None) -> None:
    assert build_parser().parse_args(argv).mode == mode


def test_serve_flags_are_exclusive(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        build_parser().parse_args(["serve", "--http", "--socket"])
    assert caught.value.code == 2


def test_tracker_command_runs_through_main(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("EXPBOT_HOME", str(tmp_path))
    assert main(["track", "from-main", "--researcher", "ann"]) == 0
    assert len(capsys.readouterr().out.strip()) == 36


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["serve"], {}, "SLACK_BOT_TOKEN is not set"),
        (["serve"], {"SLACK_BOT_TOKEN": "xoxp-1-user"}, "must start with xoxb-"),
        (["serve", "--http"], {"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_SIGNING_SECRET"),
        (["serve", "--socket"], {"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_APP_TOKEN"),
        (["serve"], {"EXPBOT_ADMINS": "carol"}, "EXPBOT_ADMINS entry 'carol'"),
    ],
)
def test_serve_bad_settings_fail_at_start(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    env: dict[str, str],
    message: str,
) -> None:
    for name in list(os.environ):
        if name.startswith(("SLACK_", "EXPBOT_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("EXPBOT_HOME", str(tmp_path))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    status = main(args)
    error = capsys.readouterr().err
    assert status == 2
    assert message in error
    assert "Traceback" not in error


def test_serve_rejected_token_fails_at_start(tmp_path: Path, fake_slack) -> None:
    result = run_expbot(
        ["serve", "--http"],
        tmp_path,
        SLACK_BOT_TOKEN="xoxb-0-revoked",
        SLACK_SIGNING_SECRET="s",
        SLACK_API_URL=fake_slack.api_url,
    )
    assert result.returncode == 2
    assert "Slack rejected SLACK_BOT_TOKEN (invalid_auth)" in result.stderr
    assert "xoxb-0-revoked" not in result.stderr
