"""`expbot shell`: the /exp commands in a terminal, with no Slack at all."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import Settings
from bot.shell import render_reply, run_shell
from tests.bot_server import REPO
from tracker import Tracker, people

# A newcomer's environment: no Slack tokens, no expbot settings.
CLEAN_ENV = {
    key: value
    for key, value in os.environ.items()
    if not key.startswith(("SLACK_", "EXPBOT_"))
}


def expbot(args: list[str], stdin: str, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**CLEAN_ENV, "EXPBOT_HOME": str(home), "USER": "newcomer"},
        timeout=120,
        check=False,
    )


def shell(tracker_home: Path, lines: str, **options: object) -> str:
    output = io.StringIO()
    settings = Settings(home=tracker_home)
    status = run_shell(settings, stdin=io.StringIO(lines), stdout=output, **options)  # type: ignore[arg-type]
    assert status == 0
    return output.getvalue()


@pytest.fixture
def seeded_home(tmp_path: Path) -> Path:
    tracker = Tracker(f"sqlite:///{tmp_path / 'expbot.db'}")
    record = tracker.track("shell-run", researcher="dora", tags=["cli"], capture=False)
    tracker.complete(record.id, {"accuracy": 0.8})
    tracker.close()
    return tmp_path


def test_shell_demo_first_command_works(tmp_path: Path) -> None:
    result = expbot(["shell", "--demo"], "search status:failed\n", tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Recorded" in result.stdout
    assert "Failed" in result.stdout
    assert "Traceback" not in result.stderr


def test_shell_fresh_install_without_tokens(tmp_path: Path) -> None:
    result = expbot(["shell"], "/exp search\nhelp search\n", tmp_path / "new")
    assert result.returncode == 0, result.stderr
    assert "No experiments yet" in result.stdout
    assert "since:7d" in result.stdout


def test_shell_renders_card_as_text(seeded_home: Path) -> None:
    output = shell(seeded_home, "search tag:cli\n", user="dora")
    assert "shell-run" in output
    assert "[Show]" in output


def test_shell_accepts_exp_prefix(seeded_home: Path) -> None:
    assert shell(seeded_home, "/exp search\n") == shell(seeded_home, "search\n")


def test_shell_exp_alone_shows_help(seeded_home: Path) -> None:
    assert shell(seeded_home, "/exp\n") == shell(seeded_home, "help\n")


@pytest.mark.parametrize("line", ["/EXP help search", "/Exp\thelp search"])
def test_shell_exp_prefix_any_case(seeded_home: Path, line: str) -> None:
    assert shell(seeded_home, f"{line}\n") == shell(seeded_home, "help search\n")


def test_shell_exp_prefix_whole_word(seeded_home: Path) -> None:
    assert "Unknown subcommand `/expsearch`" in shell(seeded_home, "/expsearch\n")


def test_shell_skips_comments_and_blank(seeded_home: Path) -> None:
    assert shell(seeded_home, "# a comment\n\n   \n") == ""


def test_shell_stops_at_quit(seeded_home: Path) -> None:
    output = shell(seeded_home, "quit\nsearch\n")
    assert output == ""


def test_shell_acts_as_user(seeded_home: Path) -> None:
    tracker = Tracker(f"sqlite:///{seeded_home / 'expbot.db'}")
    record_id = tracker.search("tag:cli")[0].id
    tracker.close()
    refused = shell(seeded_home, f"tag {record_id[:8]} +x\n", user="eve")
    allowed = shell(seeded_home, f"tag {record_id[:8]} +x\n", user="dora")
    assert "Only dora" in refused
    assert "Tags of" in allowed


def test_shell_admin_may_change_any(seeded_home: Path) -> None:
    tracker = Tracker(f"sqlite:///{seeded_home / 'expbot.db'}")
    record_id = tracker.search("tag:cli")[0].id
    tracker.close()
    output = shell(seeded_home, f"note {record_id[:8]} ok\n", user="eve", admin=True)
    assert "Added a note" in output


def test_shell_error_reply_is_plain(seeded_home: Path) -> None:
    output = shell(seeded_home, "show zz\n")
    assert "too short" in output
    assert ":warning:" not in output


def test_render_reply_joins_followups() -> None:
    from bot.commands.base import Reply

    text = render_reply(Reply(text="*one*", followups=[Reply(text="two")]))
    assert text.splitlines()[0] == "one"
    assert text.rstrip().endswith("two")


def test_shell_schedules_show_handle(seeded_home: Path) -> None:
    output = shell(seeded_home, "schedule monthly team:nlp\nschedules\n", user="dora")

    assert "by dora" in output
    assert "ULOCALSHELL" not in output


def test_shell_linked_user_owns_schedule(seeded_home: Path) -> None:
    tracker = Tracker(f"sqlite:///{seeded_home / 'expbot.db'}")
    people.link_slack_user(tracker, "dora", "U0DORA")
    tracker.close()

    output = shell(seeded_home, "schedule monthly team:nlp\n", user="dora")
    listed = shell(seeded_home, "schedules\n", user="erin")

    assert "Scheduled" in output
    assert "by dora" in listed


def test_shell_named_missing_database_fails(tmp_path: Path) -> None:
    missing = tmp_path / "cpoy.db"

    result = expbot(
        ["--database-url", f"sqlite:///{missing}", "shell"], "search\n", tmp_path
    )

    assert result.returncode == 1
    assert f"No database at '{missing}'" in result.stderr
    assert "Traceback" not in result.stderr
    assert not missing.exists()


def test_shell_next_pages_through_results(tmp_path: Path) -> None:
    tracker = Tracker(f"sqlite:///{tmp_path / 'expbot.db'}")
    for number in range(25):
        tracker.track(f"paged-{number:02}", researcher="dora", capture=False)
    tracker.close()

    output = shell(tmp_path, "search paged\nnext\nnext\n", user="dora")
    first_page, rest = output.split("(Type `next` for the next page.)")
    second_page, after_last = rest.split("No next page")

    assert "25 experiments match `paged` · showing 1–20" in first_page
    assert "showing 21–25" in second_page
    assert "paged-00" in second_page
    assert "the last reply has no Next button" in after_last


def test_shell_team_from_environment(
    seeded_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tracker = Tracker(f"sqlite:///{seeded_home / 'expbot.db'}")
    tracker.track("nlp-run", researcher="dora", team="nlp", capture=False)
    tracker.close()
    monkeypatch.setenv("EXPBOT_TEAM", "nlp")

    output = shell(seeded_home, "summary\n", user="dora")

    assert "Summary: team nlp" in output
