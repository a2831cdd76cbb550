"""`sort:` and `/exp leaderboard` name a metric that no experiment has."""

from __future__ import annotations

import pytest

from bot.commands.base import CommandContext
from bot.router import execute
from bot.settings import Settings
from bot.shell import render_reply
from tracker import Tracker, metric_names
from tracker.metric_names import known_metrics, missing_metrics


def context(tracker: Tracker, handle: str = "alice") -> CommandContext:
    return CommandContext(
        tracker=tracker,
        settings=Settings(),
        user_id=f"U0{handle.upper()}",
        handle=handle,
        is_admin=False,
        channel_id="C0MLTEAM",
    )


def run(tracker: Tracker, text: str, handle: str = "alice") -> str:
    return render_reply(execute(context(tracker, handle), text))


@pytest.fixture
def runs(tracker: Tracker) -> Tracker:
    for name, metrics in [
        ("run-a", {"accuracy": 0.7, "val/loss": 0.4}),
        ("run-b", {"accuracy": 0.8}),
    ]:
        record = tracker.track(name, researcher="alice", capture=False)
        tracker.complete(record.id, metrics)
    hidden = tracker.track(
        "hidden", researcher="carol", visibility="private", capture=False
    )
    tracker.complete(hidden.id, {"secret_score": 1.0})
    return tracker


def test_sort_by_unknown_metric_says_so(runs: Tracker) -> None:
    text = run(runs, "search sort:acc")

    assert "No experiment has the metric `acc`" in text
    assert "known metrics: `accuracy`, `val/loss`." in text


def test_sort_by_known_metric_no_notice(runs: Tracker) -> None:
    assert "No experiment has" not in run(runs, "search sort:accuracy")


def test_sort_by_builtin_key_no_notice(runs: Tracker) -> None:
    assert "No experiment has" not in run(runs, "search sort:-created")


def test_unknown_sort_with_no_results(runs: Tracker) -> None:
    text = run(runs, "search tag:none sort:acc")

    assert "No experiments match" in text
    assert "No experiment has the metric `acc`" in text


def test_leaderboard_unknown_metric_lists_known(runs: Tracker) -> None:
    text = run(runs, "leaderboard bleu")

    assert "No experiment has the metric `bleu`" in text
    assert "`accuracy`" in text
    assert "Log it with" not in text


def test_leaderboard_filtered_metric_no_notice(runs: Tracker) -> None:
    text = run(runs, "leaderboard accuracy tag:none")

    assert "No experiments have a value for `accuracy`" in text
    assert "No experiment has the metric" not in text
    assert "Log it with `expbot log ID metric=value`." in text


def test_known_metrics_hide_private_names(runs: Tracker) -> None:
    assert "secret_score" not in run(runs, "leaderboard bleu", handle="bob")


def test_known_metrics_most_used_first(runs: Tracker) -> None:
    assert known_metrics(runs, 10) == ["accuracy", "secret_score", "val/loss"]


def test_known_metrics_respects_limit(runs: Tracker) -> None:
    assert known_metrics(runs, 1, viewer="bob") == ["accuracy"]


def test_missing_metrics_keeps_order(runs: Tracker) -> None:
    missing = missing_metrics(runs, ["bleu", "accuracy", "wer"], viewer="bob")

    assert missing == ["bleu", "wer"]


def test_missing_metrics_private_for_other(runs: Tracker) -> None:
    assert missing_metrics(runs, ["secret_score"], viewer="bob") == ["secret_score"]
    assert missing_metrics(runs, ["secret_score"], viewer="carol") == []


def test_known_metrics_ties_above_cap(
    runs: Tracker, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ["wer-1", "wer-2", "wer-3"]:
        record = runs.track(name, researcher="alice", capture=False)
        runs.complete(record.id, {"wer": 0.1})
    assert known_metrics(runs, 10, viewer="bob") == ["wer", "accuracy", "val/loss"]

    # With counting capped at one experiment, all three tie: name order.
    monkeypatch.setattr(metric_names, "COUNT_CAP", 1)

    assert known_metrics(runs, 10, viewer="bob") == ["accuracy", "val/loss", "wer"]


def test_known_metrics_reads_names_up_to_limit(
    runs: Tracker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(metric_names, "NAMES_READ", 2)

    assert known_metrics(runs, 10) == ["accuracy", "secret_score"]
