"""CLI messages for usage errors, empty pages and unknown metric names."""

from __future__ import annotations

import pytest

from bot.cli import main
from tracker import Tracker
from tracker.metric_names import unknown_metrics_hint


@pytest.fixture
def expbot(sqlite_url, sqlite_tracker, monkeypatch, capsys):
    """Run `expbot` in-process as alice on the test database."""
    monkeypatch.setenv("EXPBOT_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("EXPBOT_RESEARCHER", "alice")

    def run(*args: str) -> tuple[int, str, str]:
        try:
            status = main(list(args))
        except SystemExit as stop:
            status = int(stop.code or 0)
        captured = capsys.readouterr()
        return status, captured.out, captured.err

    return run


@pytest.fixture
def logged(sqlite_tracker: Tracker) -> str:
    record = sqlite_tracker.track("run", researcher="alice", tags=["nlp"])
    sqlite_tracker.complete(record.id, {"accuracy": 0.9, "val/loss": 0.3})
    return record.short_id


def test_fail_extra_word_suggests_reason(expbot, logged):
    status, _, error = expbot("fail", logged, "OOM")

    assert status == 2
    assert error.startswith("expbot fail: unrecognized arguments: OOM.")
    assert f'`expbot fail {logged} --reason "OOM"`' in error
    assert error.rstrip().endswith("Run `expbot fail --help`.")


def test_tag_usage_names_own_help(expbot, logged):
    status, _, error = expbot("tag", logged)

    assert status == 2
    assert error.startswith("expbot tag: ")
    assert "Run `expbot tag --help`." in error


def test_extra_words_name_own_help(expbot, logged):
    status, _, error = expbot("show", logged, "extra")

    assert status == 2
    assert error.startswith("expbot show: unrecognized arguments: extra.")
    assert "Run `expbot show --help`." in error


def test_search_past_end_counts_matches(expbot, logged):
    status, out, error = expbot("search", "tag:nlp", "--offset", "100")

    assert status == 0
    assert out == ""
    assert error == "No results past --offset 100: 1 experiment matches in all.\n"


def test_search_past_end_json(expbot, logged):
    status, out, error = expbot("search", "tag:nlp", "--offset", "5", "--json")

    assert status == 0
    assert out == "[]\n"
    assert "1 experiment matches in all" in error


def test_search_no_match_unchanged(expbot, logged):
    status, out, error = expbot("search", "tag:other", "--offset", "5")

    assert status == 0
    assert out == "No experiments match.\n"
    assert error == ""


def test_history_unknown_metric_lists_logged(expbot, logged):
    status, out, error = expbot("history", logged, "--metric", "nosuch")

    assert status == 1
    assert out == ""
    assert f"Experiment {logged} has no metric `nosuch`" in error
    assert "it has `accuracy`, `val/loss`." in error


def test_history_known_metric_prints(expbot, logged):
    status, out, _ = expbot("history", logged, "--metric", "accuracy")

    assert status == 0
    assert out.startswith("accuracy: 0.9")


def test_leaderboard_typo_suggests_metric(expbot, logged):
    status, out, error = expbot("leaderboard", "acuracy")

    assert status == 0
    assert out == "No experiments have the metric `acuracy`.\n"
    assert "Did you mean `accuracy`?" in error
    assert "Known metrics: `accuracy`, `val/loss`." in error


def test_leaderboard_known_metric_no_hint(expbot, logged):
    status, _, error = expbot("leaderboard", "accuracy", "status:running")

    assert status == 0
    assert error == ""


def test_metric_hint_cases(tracker):
    assert unknown_metrics_hint(tracker, ["accuracy"]) == (
        "No experiment has the metric `accuracy`. None has logged a metric yet."
    )
    record = tracker.track("run", researcher="alice")
    tracker.log_metrics(record.id, {"accuracy": 0.5, "bleu": 30.0})
    private = tracker.track("secret", researcher="bob", visibility="private")
    tracker.log_metrics(private.id, {"accurate_secret": 1.0})

    assert unknown_metrics_hint(tracker, ["accuracy", "bleu"]) == ""
    assert unknown_metrics_hint(tracker, ["blue", "acuracy"], viewer="alice") == (
        "No experiment has the metrics `blue`, `acuracy`. Did you mean `bleu` or "
        "`accuracy`? Known metrics: `accuracy`, `bleu`."
    )
