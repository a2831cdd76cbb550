"""`expbot report` and `expbot report-sample` through the real entry point."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from bot.cli import main
from tests.conftest import FakeClock
from tests.fakeslack import FakeSlack
from tracker import Tracker


@pytest.fixture
def database(sqlite_url: str) -> str:
    """An October 2026 with one completed and one failed nlp experiment."""
    clock = FakeClock(dt.datetime(2026, 10, 5, 9, tzinfo=dt.UTC))
    tracker = Tracker(sqlite_url, clock=clock)
    done = tracker.track("bert", team="nlp", researcher="alice", capture=False)
    failed = tracker.track("gpt", team="nlp", researcher="bob", capture=False)
    clock.advance(hours=2)
    tracker.complete(done.id, {"accuracy": 0.9})
    tracker.fail(failed.id, "CUDA out of memory")
    tracker.close()
    return sqlite_url


def expbot(database: str, *args: str) -> int:
    return main(["--database-url", database, *args])


def test_report_prints_json(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    status = expbot(database, "report", "--team", "nlp", "--month", "2026-10", "--json")
    data = json.loads(capsys.readouterr().out)
    assert status == 0
    assert data["figures"]["completion_rate"]["value"] == 0.5
    assert data["failures"][0]["reason"] == "CUDA out of memory"


def test_report_prints_markdown(
    database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    expbot(database, "report", "--team", "nlp", "--month", "2026-10")
    out = capsys.readouterr().out
    assert out.startswith("# Monthly report: nlp, October 2026\n")
    assert "| Completion rate | 50% (1 of 2 ended) | - |" in out


def test_report_week_in_timezone(
    database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--week", "2026-W41", "--tz", "Asia/Tokyo", "--json"]
    expbot(database, "report", "--team", "nlp", *args)
    data = json.loads(capsys.readouterr().out)
    assert data["period"]["label"] == "2026-W41"
    assert data["period"]["start"] == "2026-10-04T15:00:00+00:00"
    assert data["figures"]["created"]["value"] == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--month", "2026-13"], "Invalid month '2026-13'"),
        (["--month", "2026-10", "--tz", "Mars/Olympus"], "Unknown time zone"),
    ],
)
def test_report_bad_input_exits_1(
    database: str, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    status = expbot(database, "report", "--team", "nlp", *args)
    err = capsys.readouterr().err
    assert status == 1
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_report_needs_a_period(database: str) -> None:
    with pytest.raises(SystemExit) as raised:
        expbot(database, "report", "--team", "nlp")
    assert raised.value.code == 2


def test_report_writes_charts(database: str, tmp_path: Path) -> None:
    folder = tmp_path / "charts"
    expbot(
        database,
        "report",
        "--team",
        "nlp",
        "--month",
        "2026-10",
        "--charts",
        str(folder),
    )
    assert sorted(p.name for p in folder.iterdir()) == [
        "nlp-2026-10-leaderboard.png",
        "nlp-2026-10-status.png",
    ]


def test_report_posts_to_slack(
    database: str, fake_slack_env: FakeSlack, capsys: pytest.CaptureFixture[str]
) -> None:
    status = expbot(
        database, "report", "--team", "nlp", "--month", "2026-10", "--post", "C0MLTEAM"
    )
    [message] = fake_slack_env.messages("C0MLTEAM")
    assert status == 0
    assert message.text.startswith("Monthly report: nlp, October 2026")
    assert len(fake_slack_env.files()) == 2
    assert "Posted the report to C0MLTEAM" in capsys.readouterr().err


def test_post_without_bot_explains_invite(
    database: str, fake_slack_env: FakeSlack, capsys: pytest.CaptureFixture[str]
) -> None:
    status = expbot(
        database, "report", "--team", "nlp", "--month", "2026-10", "--post", "G0SECRET"
    )
    assert status == 1
    assert "/invite @expbot" in capsys.readouterr().err


def test_report_sample_writes_review_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["report-sample", "--out", str(tmp_path)])
    names = sorted(p.name for p in tmp_path.iterdir())
    blocks = json.loads((tmp_path / "report-blocks.json").read_text())["blocks"]
    assert status == 0
    assert names == [
        "nlp-2026-10-leaderboard.png",
        "nlp-2026-10-status.png",
        "report-blocks.json",
        "report.json",
        "report.md",
    ]
    assert blocks[0]["type"] == "header"
    assert len(blocks) <= 50
    assert len(capsys.readouterr().out.splitlines()) == 5


def test_report_unknown_team_warns(
    database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status = expbot(database, "report", "--team", "nlpp", "--month", "2026-10")

    error = capsys.readouterr().err
    assert status == 0
    assert "no experiment records team 'nlpp'" in error
    assert "Teams with experiments: nlp." in error
