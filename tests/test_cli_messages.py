"""CLI messages for usage errors, empty pages and unknown metric names."""

from __future__ import annotations

import pytest

from tracker import Tracker
from tracker.metric_names import unknown_metrics_hint


@pytest.fixture
def expbot(sqlite_url, sqlite_tracker, monkeypatch, run_expbot):
    """Run `expbot` in-process as alice on the test database."""
    monkeypatch.setenv("EXPBOT_DATABASE_URL", sqlite_url)
    return run_expbot


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


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["search", "--limit", "x"],
            "expbot search: argument --limit: 'x' is not a whole number; "
            "give e.g. --limit 20. Run `expbot search --help`.",
        ),
        (
            ["search", "--limit", "0"],
            "expbot search: argument --limit: '0' is not 1 or more; "
            "give e.g. --limit 20. Run `expbot search --help`.",
        ),
        (
            ["search", "--offset", "1.5"],
            "expbot search: argument --offset: '1.5' is not a whole number; "
            "give e.g. --offset 50. Run `expbot search --help`.",
        ),
        (
            ["search", "--offset", "-1"],
            "expbot search: argument --offset: '-1' is not 0 or more; "
            "give e.g. --offset 50. Run `expbot search --help`.",
        ),
        (
            ["leaderboard", "accuracy", "--limit", "ten"],
            "expbot leaderboard: argument --limit: 'ten' is not a whole number; "
            "give e.g. --limit 5. Run `expbot leaderboard --help`.",
        ),
        (
            ["log", "3f2a9c00", "loss=1", "--step", "x"],
            "expbot log: argument --step: 'x' is not a whole number; "
            "give e.g. --step 100. Run `expbot log --help`.",
        ),
        (
            ["metric", "accuracy", "max", "--goal", "high"],
            "expbot metric: argument --goal: 'high' is not a number; "
            "give e.g. --goal 0.9. Run `expbot metric --help`.",
        ),
        (
            ["metric", "accuracy", "max", "--goal", "nan"],
            "expbot metric: argument --goal: 'nan' is not a finite number; "
            "give e.g. --goal 0.9. Run `expbot metric --help`.",
        ),
        (
            ["config", "3f2a9c00", "--diff", "1", "two"],
            "expbot config: argument --diff: 'two' is not a whole number; "
            "give e.g. --diff 1 2. Run `expbot config --help`.",
        ),
        (
            ["serve", "--port", "http"],
            "expbot serve: argument --port: 'http' is not a whole number; "
            "give e.g. --port 3000. Run `expbot serve --help`.",
        ),
        (
            ["outbox", "list", "--limit", "all"],
            "expbot outbox list: argument --limit: 'all' is not a whole number; "
            "give e.g. --limit 50. Run `expbot outbox list --help`.",
        ),
        (
            ["outbox", "retry", "D12"],
            "expbot outbox retry: argument ID: 'D12' is not a whole number; "
            "give e.g. `expbot outbox retry 12`. Run `expbot outbox retry --help`.",
        ),
        (
            ["outbox", "drop", "12", "x"],
            "expbot outbox drop: argument ID: 'x' is not a whole number; "
            "give e.g. `expbot outbox drop 12`. Run `expbot outbox drop --help`.",
        ),
        (
            ["nemo", "sync", "--timeout", "soon"],
            "expbot nemo sync: argument --timeout: 'soon' is not a number; "
            "give e.g. --timeout 60. Run `expbot nemo sync --help`.",
        ),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else "",
)
def test_number_option_error_shows_example(expbot, args, expected):
    status, out, error = expbot(*args)

    assert status == 2
    assert out == ""
    assert error == expected + "\n"


@pytest.mark.parametrize("command", ["log", "complete"])
def test_metric_named_twice_rejected(expbot, sqlite_tracker, command):
    running = sqlite_tracker.track("run", researcher="alice")

    status, out, error = expbot(
        command, running.short_id, "loss=1", "accuracy=0.5", "loss=2"
    )

    record = sqlite_tracker.get(running.id)
    assert status == 1
    assert out == ""
    assert error == (
        "expbot: Metric `loss` is given twice (loss=1, loss=2). Give each metric "
        "once per command.\n"
    )
    assert record.metrics == {}
    assert record.status == "running"


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


def test_summary_unknown_team_warns(expbot, sqlite_tracker):
    sqlite_tracker.track("run", researcher="alice", team="nlp", capture=False)

    status, out, error = expbot("summary", "--team", "nlpp")

    assert status == 0
    assert "0 experiments" in out
    assert "no experiment records team 'nlpp'" in error
    assert "Teams with experiments: nlp." in error


def test_summary_known_team_no_warning(expbot, sqlite_tracker):
    sqlite_tracker.track("run", researcher="alice", team="nlp", capture=False)

    _, _, error = expbot("summary", "--team", "nlp")

    assert error == ""


def test_search_unknown_sort_metric_warns(expbot, logged):
    status, out, error = expbot("search", "sort:acuracy")

    assert status == 0
    assert "run" in out
    assert "No experiment has the metric `acuracy`." in error
    assert "Did you mean `accuracy`?" in error


def test_search_known_sort_metric_quiet(expbot, logged):
    _, _, error = expbot("search", "sort:accuracy")

    assert error == ""


def test_mistyped_command_suggests_closest(expbot):
    status, _, error = expbot("serach", "tag:nlp")

    assert status == 2
    assert "invalid choice: 'serach'" in error
    assert "Did you mean `search`?" in error


def test_unlike_command_no_suggestion(expbot):
    _, _, error = expbot("xyzzy")

    assert "Did you mean" not in error


def test_global_option_after_command_explained(expbot, sqlite_url):
    status, _, error = expbot("search", "--database-url", sqlite_url, "bert")

    assert status == 2
    assert "--database-url goes before the command" in error
    assert "`expbot --database-url ... search ...`" in error


def test_log_overflowing_value_named(expbot, logged):
    status, _, error = expbot("log", logged, "accuracy=1e400")

    assert status == 1
    assert "value '1e400' is too large for a 64-bit float" in error
