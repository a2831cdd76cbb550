"""Summary, comparison, leaderboard and App Home views on a real tracker."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk.models.blocks import Block

from bot.views import (
    comparison_blocks,
    home_view,
    leaderboard_blocks,
    summary_blocks,
)
from tests.conftest import FakeClock
from tests.fakeslack.limits import block_errors, view_errors
from tracker import Tracker
from tracker.records import (
    BestResult,
    Comparison,
    ExperimentRecord,
    LeaderboardEntry,
    MetricComparison,
    ProjectProgress,
    Summary,
)

HOSTILE = "<!channel> & <@U0BOB>"


def serialised(blocks: list[Block]) -> list[dict[str, Any]]:
    return [block.to_dict() for block in blocks]


def mrkdwn_texts(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if node.get("type") == "mrkdwn":
            yield node["text"]
        for value in node.values():
            yield from mrkdwn_texts(value)
    elif isinstance(node, list):
        for item in node:
            yield from mrkdwn_texts(item)


def text_size(node: Any) -> int:
    """Count the characters of every `text` string, as Slack's budget does."""
    if isinstance(node, dict):
        return sum(
            len(value) if key == "text" and isinstance(value, str) else text_size(value)
            for key, value in node.items()
        )
    if isinstance(node, list):
        return sum(text_size(item) for item in node)
    return 0


def all_text(blocks: list[dict[str, Any]]) -> str:
    return "\n".join(mrkdwn_texts(blocks))


def run(
    tracker: Tracker,
    clock: FakeClock,
    name: str,
    *,
    project: str = "mt",
    hours: float = 2,
    end: str = "complete",
    metrics: dict[str, float] | None = None,
    **options: Any,
) -> ExperimentRecord:
    """Track an experiment that lasts `hours` and ends with `end`."""
    options.setdefault("researcher", "alice")
    record = tracker.track(name, team="nlp", project=project, capture=False, **options)
    clock.advance(hours=hours)
    if end == "complete":
        return tracker.complete(record.id, metrics or {})
    if end == "fail":
        return tracker.fail(record.id, "CUDA out of memory")
    if end == "cancel":
        return tracker.cancel(record.id, "superseded")
    return record


@pytest.fixture
def team_month(sqlite_tracker: Tracker, clock: FakeClock) -> Tracker:
    """A small team's experiments over two projects, with every status."""
    tracker = sqlite_tracker
    for lr, accuracy in [(1e-3, 0.91), (3e-4, 0.934), (1e-4, 0.925)]:
        run(
            tracker,
            clock,
            f"bert lr={lr}",
            config={"lr": lr, "batch_size": 32},
            tags=["sweep"],
            metrics={"accuracy": accuracy, "val/loss": 1 - accuracy},
        )
    run(tracker, clock, "asr conformer", project="asr", end="fail", researcher="bob")
    run(tracker, clock, "asr rnnt", project="asr", end="cancel", researcher="bob")
    run(tracker, clock, "asr whisper", project="asr", end="running", researcher="bob")
    return tracker


# -- summary -----------------------------------------------------------------


def empty_summary(**overrides: Any) -> Summary:
    fields: dict[str, Any] = {
        "team": None,
        "total": 0,
        "by_status": {"running": 0, "completed": 0, "failed": 0, "cancelled": 0},
        "completion_rate": None,
        "mean_duration_seconds": None,
        "median_duration_seconds": None,
        "researchers": {},
        "projects": [],
        "tags": {},
        "best": [],
    }
    fields.update(overrides)
    return Summary(**fields)


def test_summary_realistic_within_limits(team_month: Tracker) -> None:
    blocks = serialised(summary_blocks(team_month.summary(team="nlp")))

    assert block_errors(blocks, 50) == []
    assert blocks[0]["text"]["text"] == "Summary: team nlp"


def test_summary_shows_totals_and_rate(team_month: Tracker) -> None:
    text = all_text(serialised(summary_blocks(team_month.summary())))

    assert "*6 experiments*" in text
    assert "*Completion rate*\n60%" in text
    assert "*Failed*\n1" in text
    assert "*Mean / median duration*\n2h 00m / 2h 00m" in text


def test_summary_shows_project_progress(team_month: Tracker) -> None:
    text = all_text(serialised(summary_blocks(team_month.summary())))

    assert "3/3 completed · 0 running · 0 failed · 0 cancelled" in text
    assert "0/3 completed · 1 running · 1 failed · 1 cancelled" in text


def test_summary_best_respects_direction(team_month: Tracker) -> None:
    text = all_text(serialised(summary_blocks(team_month.summary())))

    assert "`accuracy` *0.934*" in text
    assert "`val/loss` *0.066*" in text
    assert "lower is better" in text


def test_summary_lists_latest_completed(team_month: Tracker) -> None:
    text = all_text(serialised(summary_blocks(team_month.summary())))

    assert "*Latest completed*" in text
    assert "bert lr=0.0001" in text


def test_summary_empty_says_so() -> None:
    blocks = serialised(summary_blocks(empty_summary()))

    assert block_errors(blocks, 50) == []
    assert len(blocks) == 2
    assert blocks[1]["text"]["text"].startswith("No experiments yet")


def test_summary_undefined_rate_is_na() -> None:
    summary = empty_summary(
        total=3,
        by_status={"running": 3, "completed": 0, "failed": 0, "cancelled": 0},
        projects=[ProjectProgress("mt", 3, 3, 0, 0, 0)],
    )

    text = all_text(serialised(summary_blocks(summary)))

    assert "*Completion rate*\nn/a" in text
    assert "100%" not in text


def test_summary_many_projects_within_limits() -> None:
    projects = [
        ProjectProgress(f"project-{i}-" + "p" * 90, 10, 1, 7, 1, 1) for i in range(300)
    ]
    best = [
        BestResult(f"metric_{i}", "max", 0.5, str(uuid.uuid4()), "n" * 300)
        for i in range(200)
    ]
    summary = empty_summary(
        total=3000,
        by_status={"running": 300, "completed": 2100, "failed": 300, "cancelled": 300},
        completion_rate=0.77,
        projects=projects,
        best=best,
        researchers={f"user{i}": i for i in range(100)},
        tags={HOSTILE: 4},
    )

    blocks = serialised(summary_blocks(summary))

    assert block_errors(blocks, 50) == []
    assert text_size(blocks) <= 11_000
    assert "+275 more projects" in all_text(blocks)
    assert "more sections not shown" in all_text(blocks)


def test_summary_escapes_names() -> None:
    summary = empty_summary(
        total=1,
        by_status={"running": 1, "completed": 0, "failed": 0, "cancelled": 0},
        projects=[ProjectProgress(HOSTILE, 1, 1, 0, 0, 0)],
        tags={HOSTILE: 1},
        best=[BestResult("acc", "max", 1.0, str(uuid.uuid4()), HOSTILE)],
    )

    text = all_text(serialised(summary_blocks(summary)))

    assert "<!channel>" not in text
    assert "<@U0BOB>" not in text


# -- comparison --------------------------------------------------------------


def test_compare_realistic_within_limits(team_month: Tracker) -> None:
    ids = [r.id for r in team_month.search("tag:sweep")]

    blocks = serialised(comparison_blocks(team_month.compare(ids)))

    assert block_errors(blocks, 50) == []
    assert blocks[0]["text"]["text"] == "Comparing 3 experiments"


def test_compare_shows_only_differing_keys(team_month: Tracker) -> None:
    ids = [r.id for r in team_month.search("tag:sweep")]

    text = all_text(serialised(comparison_blocks(team_month.compare(ids))))

    assert "lr " in text
    assert "batch_size" not in text


def test_compare_marks_best_and_deltas(
    sqlite_tracker: Tracker, clock: FakeClock
) -> None:
    first = run(sqlite_tracker, clock, "a", metrics={"accuracy": 0.9, "val/loss": 0.3})
    second = run(
        sqlite_tracker, clock, "b", metrics={"accuracy": 0.95, "val/loss": 0.4}
    )

    blocks = comparison_blocks(sqlite_tracker.compare([first.id, second.id]))
    rows = {" ".join(line.split()) for line in all_text(serialised(blocks)).split("\n")}

    assert "accuracy ↑ 0.9 0.95 (+0.05) ★" in rows
    assert "val/loss ↓ 0.3 ★ 0.4 (+0.1)" in rows


def make_comparison(keys: int, experiments: int) -> Comparison:
    now = dt.datetime(2026, 11, 3, tzinfo=dt.UTC)
    records = [
        ExperimentRecord(
            id=str(uuid.uuid4()),
            name=f"run {i} {HOSTILE}",
            description="",
            researcher="alice",
            team="nlp",
            project="mt",
            status="completed",
            visibility="team",
            source="api",
            created_at=now,
            started_at=now,
            ended_at=now,
            updated_at=now,
            reason="",
            config={},
            config_version=1,
            tags=(),
            metrics={},
            collaborators=(),
            notes=(),
            artifacts=(),
            custom={},
            reproducibility={},
        )
        for i in range(experiments)
    ]
    differences = {
        f"model.encoder.layer_{k}.attention.dropout": {
            r.id: f"{HOSTILE} {k * 10 + i}" for i, r in enumerate(records)
        }
        for k in range(keys)
    }
    metrics = [
        MetricComparison(
            f"metric_{m}", "max", {r.id: float(i) for i, r in enumerate(records)}, None
        )
        for m in range(40)
    ]
    return Comparison(records, differences, metrics)


@pytest.mark.parametrize("experiments", [2, 10])
def test_compare_500_key_configs_within_limits(experiments: int) -> None:
    blocks = serialised(comparison_blocks(make_comparison(500, experiments)))
    text = all_text(blocks)

    assert block_errors(blocks, 50) == []
    assert text_size(blocks) <= 11_000
    assert "<!channel>" not in text
    assert "<@U0BOB>" not in text


def test_compare_counts_keys_left_out() -> None:
    blocks = serialised(comparison_blocks(make_comparison(500, 10)))

    assert "of 500 differing keys shown" in all_text(blocks)


def test_compare_shows_all_keys_when_they_fit() -> None:
    blocks = serialised(comparison_blocks(make_comparison(30, 2)))
    text = all_text(blocks)

    assert text.count("model.encoder.layer_") == 30
    assert "differing keys shown" not in text


# -- leaderboard -------------------------------------------------------------


def test_leaderboard_ranks_best_first(team_month: Tracker) -> None:
    entries = team_month.leaderboard("accuracy")

    blocks = serialised(leaderboard_blocks("accuracy", "max", entries))
    rows = [b["text"]["text"] for b in blocks if b["type"] == "section"]

    assert block_errors(blocks, 50) == []
    assert rows[0].startswith(":first_place_medal:  *0.934*  bert lr=0.0003")
    assert rows[2].startswith(":third_place_medal:  *0.91*")


def test_leaderboard_min_direction_label(team_month: Tracker) -> None:
    entries = team_month.leaderboard("val/loss")

    blocks = serialised(
        leaderboard_blocks("val/loss", "min", entries, query="tag:sweep")
    )

    assert blocks[1]["elements"][0]["text"] == "↓ lower is better · among `tag:sweep`"


def test_leaderboard_empty_explains() -> None:
    blocks = serialised(leaderboard_blocks("bleu", "max", [], query="tag:nlp"))

    assert "No experiments have a value for `bleu` that match the query" in all_text(
        blocks
    )


def test_leaderboard_100_entries_within_limits(team_month: Tracker) -> None:
    record = team_month.search("tag:sweep")[0]
    entries = [LeaderboardEntry(i + 1, 1.0 / (i + 1), record) for i in range(100)]

    blocks = serialised(leaderboard_blocks("accuracy", "max", entries))

    assert block_errors(blocks, 50) == []
    assert text_size(blocks) <= 11_000
    assert "more entries not shown" in all_text(blocks)


# -- App Home ----------------------------------------------------------------


def test_home_view_within_view_limits(team_month: Tracker) -> None:
    recent = team_month.search("by:alice sort:-created", limit=10)

    view = home_view(recent, team_month.summary(team="nlp"), handle="alice").to_dict()

    assert view["type"] == "home"
    assert view_errors(view) == []


def test_home_view_lists_recent_first(team_month: Tracker) -> None:
    recent = team_month.search("by:alice sort:-created", limit=10)

    view = home_view(recent, None, handle="alice").to_dict()
    rows = [b for b in view["blocks"] if b.get("accessory")]

    assert len(rows) == 3
    assert "bert lr=0.0001" in rows[0]["text"]["text"]


def test_home_view_unlinked_user() -> None:
    view = home_view([], None, handle=None).to_dict()

    assert "/exp link HANDLE" in all_text(view["blocks"])


def test_home_view_large_summary_within_limits() -> None:
    summary = empty_summary(
        total=3000,
        by_status={"running": 3000, "completed": 0, "failed": 0, "cancelled": 0},
        projects=[ProjectProgress(f"p{i}", 10, 10, 0, 0, 0) for i in range(300)],
        best=[
            BestResult(f"m{i}", "max", 1, str(uuid.uuid4()), "x") for i in range(300)
        ],
    )

    view = home_view([], summary, handle="alice").to_dict()

    assert view_errors(view) == []
    assert text_size(view["blocks"]) <= 50_000


@pytest.mark.parametrize(("keys", "expected"), [(1, "_1 key_"), (2, "_2 keys_")])
def test_compare_counts_keys_in_words(keys: int, expected: str) -> None:
    blocks = serialised(comparison_blocks(make_comparison(keys, 2)))

    assert f"*Config differences*  {expected}" in all_text(blocks)
