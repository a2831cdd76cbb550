"""Subcommand handlers run in-process through `execute`, as the shell does."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from slack_sdk import WebClient

from bot.commands.arguments import take_options
from bot.commands.base import CommandContext, UsageError
from bot.commands.experiments import tag_changes
from bot.commands.search import MAX_COUNTED, count_matches, search_query
from bot.router import execute
from bot.settings import Settings
from bot.shell import render_reply
from bot.views import MatchCount
from tracker import Tracker, models, people
from tracker.records import ExperimentRecord


def context(
    tracker: Tracker, handle: str = "alice", **fields: object
) -> CommandContext:
    options: dict[str, object] = {
        "tracker": tracker,
        "settings": Settings(),
        "user_id": f"U0{handle.upper()}",
        "handle": handle,
        "is_admin": False,
        "channel_id": "C0MLTEAM",
    }
    options.update(fields)
    return CommandContext(**options)  # type: ignore[arg-type]


@pytest.fixture
def records(sqlite_tracker: Tracker) -> dict[str, ExperimentRecord]:
    open_run = sqlite_tracker.track(
        "open-run", researcher="alice", team="nlp", tags=["t"], capture=False
    )
    sqlite_tracker.complete(open_run.id, {"accuracy": 0.7, "loss": 0.4})
    hidden = sqlite_tracker.track(
        "hidden-run",
        researcher="alice",
        team="nlp",
        tags=["t"],
        visibility="private",
        capture=False,
    )
    sqlite_tracker.complete(hidden.id, {"accuracy": 0.9, "loss": 0.2})
    return {"open": open_run, "hidden": hidden}


def run(ctx: CommandContext, text: str) -> str:
    return render_reply(execute(ctx, text))


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (["+a", "-b", "c"], (["a", "c"], ["b"])),
        (["-x"], ([], ["x"])),
    ],
)
def test_tag_changes_split(words: list[str], expected: tuple) -> None:
    assert tag_changes(words) == expected


def test_tag_changes_need_one() -> None:
    with pytest.raises(UsageError):
        tag_changes([])


@pytest.mark.parametrize(
    ("words", "options", "rest"),
    [
        (["team:nlp", "all"], {"team": "nlp"}, ["all"]),
        (["goal:0.9", "bleu", "max"], {"goal": "0.9"}, ["bleu", "max"]),
        (["config.lr:1"], {}, ["config.lr:1"]),
        (['team:"ml ops"'], {"team": "ml ops"}, []),
        (["team:\u201cml ops\u201d"], {"team": "ml ops"}, []),
        (['team:"say \\"hi\\""'], {"team": 'say "hi"'}, []),
        (["team:ml\nops"], {"team": "ml\nops"}, []),
    ],
)
def test_take_options_cases(words: list[str], options: dict, rest: list) -> None:
    assert take_options(words, ["team", "goal"]) == (options, rest)


@pytest.mark.parametrize("words", [["team:"], ["team:a", "team:b"]])
def test_take_options_bad_input(words: list[str]) -> None:
    with pytest.raises(UsageError):
        take_options(words, ["team"])


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ("by:@alice", "by:alice"),
        ("with:@bob tag:x", "with:bob tag:x"),
        ("note@home", "note@home"),
    ],
)
def test_search_query_strips_mention_at(args: str, expected: str) -> None:
    assert search_query(args) == expected


def test_search_shows_own_private_run(sqlite_tracker: Tracker, records) -> None:
    text = run(context(sqlite_tracker), "search tag:t")
    assert "hidden-run" in text
    assert "open-run" in text


def test_search_for_channel_hides_private(sqlite_tracker: Tracker, records) -> None:
    text = run(context(sqlite_tracker, public=True), "search tag:t")
    assert "hidden-run" not in text
    assert "open-run" in text


def add_bulk_experiments(tracker: Tracker, count: int) -> None:
    """Insert `count` team-visible experiments tagged `bulk` in one transaction.

    The rows go in directly because a thousand calls to `track` would make
    the test slow, and only the count of matches matters here.
    """
    created = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    with tracker.db.write() as session:
        for index in range(count):
            experiment = models.Experiment(
                id=str(uuid.uuid4()),
                name=f"bulk-{index}",
                researcher="bob",
                team="nlp",
                created_at=created,
                updated_at=created,
            )
            experiment.tags = [models.Tag(tag="bulk", team="nlp")]
            session.add(experiment)


@pytest.mark.parametrize(
    ("count", "line"),
    [
        (1000, "1000 experiments match `tag:bulk`"),
        (1001, "1,000+ experiments match `tag:bulk`"),
    ],
)
def test_search_counts_up_to_cap(
    sqlite_tracker: Tracker, count: int, line: str
) -> None:
    add_bulk_experiments(sqlite_tracker, count)

    reply = execute(context(sqlite_tracker), "search tag:bulk")

    assert MAX_COUNTED == 1000
    assert reply.text == line
    assert line in render_reply(reply)


def test_count_matches_goes_past_cap_when_paging(sqlite_tracker: Tracker) -> None:
    add_bulk_experiments(sqlite_tracker, 1001)

    first = count_matches(
        sqlite_tracker, "tag:bulk", viewer="alice", end=20, page_size=20
    )
    last = count_matches(
        sqlite_tracker, "tag:bulk", viewer="alice", end=1000, page_size=20
    )

    assert first == MatchCount(1000, more=True)
    assert last == MatchCount(1001)


def test_leaderboard_for_channel_hides_private(
    sqlite_tracker: Tracker, records
) -> None:
    text = run(context(sqlite_tracker, public=True), "leaderboard accuracy")
    assert "hidden-run" not in text


def test_show_for_channel_has_no_change_buttons(
    sqlite_tracker: Tracker, records
) -> None:
    own = run(context(sqlite_tracker), f"show {records['open'].id[:8]}")
    public = run(context(sqlite_tracker, public=True), f"show {records['open'].id[:8]}")
    assert "[Share]" in own
    assert "[Share]" not in public


def test_summary_defaults_to_own_team(sqlite_tracker: Tracker, records) -> None:
    sqlite_tracker.track("other-team-run", researcher="bob", team="cv", capture=False)
    mine = run(context(sqlite_tracker, team="nlp"), "summary")
    everyone = run(context(sqlite_tracker, team="nlp"), "summary all")
    assert "team nlp" in mine
    assert "all teams" in everyone


def test_summary_unknown_team_warns(sqlite_tracker: Tracker, records) -> None:
    text = run(context(sqlite_tracker), "summary team:nlpp")

    assert "No experiment records team nlpp yet" in text
    assert "its summary is empty" in text
    assert "Teams with experiments: `nlp`" in text


def test_summary_known_team_no_warning(sqlite_tracker: Tracker, records) -> None:
    assert "No experiment records team" not in run(
        context(sqlite_tracker), "summary team:nlp"
    )


def test_share_twice_says_already(sqlite_tracker: Tracker, records) -> None:
    ctx = context(sqlite_tracker)
    run(ctx, f"share {records['open'].id[:8]} @bob")
    assert "can already see and change" in run(
        ctx, f"share {records['open'].id[:8]} bob"
    )


def test_metric_lists_and_shows(sqlite_tracker: Tracker) -> None:
    ctx = context(sqlite_tracker)
    assert "No metric directions are set" in run(ctx, "metric")
    run(ctx, "metric bleu min team:mt")
    assert "`bleu` min (team mt)" in run(ctx, "metric")
    assert "maximized" in run(ctx, "metric accuracy")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("metric bleu max goal:high", "Goal 'high' is not a number"),
        ("metric bleu max goal:nan", "must be a finite number"),
        ("metric bleu", ""),
        ("metric a b c", "Give a metric name"),
    ],
)
def test_metric_bad_input(sqlite_tracker: Tracker, text: str, message: str) -> None:
    assert message in run(context(sqlite_tracker), text)


def test_link_without_handle_shows_identity(sqlite_tracker: Tracker) -> None:
    text = run(context(sqlite_tracker, team="nlp"), "link")
    assert "You are `alice`, team `nlp`" in text


def test_link_team_only_sets_team(sqlite_tracker: Tracker) -> None:
    people.add_person(sqlite_tracker, "alice")
    run(context(sqlite_tracker), "link team:vision")
    person = people.by_handle(sqlite_tracker, "alice")
    assert person is not None
    assert person.team == "vision"


def test_link_in_shell_points_to_user_option(sqlite_tracker: Tracker) -> None:
    text = run(context(sqlite_tracker), "link bob")
    assert "--user HANDLE" in text
    assert people.by_handle(sqlite_tracker, "bob") is None


def test_link_other_user_needs_admin(sqlite_tracker: Tracker) -> None:
    # The permission check comes before any Slack call, so the client
    # points at a closed loopback port.
    client = WebClient(token="xoxb-unused", base_url="http://127.0.0.1:9/")
    text = run(context(sqlite_tracker, client=client), "link bob @bob")
    assert "Only an expbot admin can link another user" in text


@pytest.mark.parametrize("separator", ["\n", "\t", "  "])
def test_note_id_ends_at_any_whitespace(
    sqlite_tracker: Tracker, records, separator: str
) -> None:
    identifier = records["open"].id[:8]
    text = run(context(sqlite_tracker), f"note {identifier}{separator}first\nsecond")
    notes = [note.text for note in sqlite_tracker.get(identifier).notes]
    assert "Added a note" in text
    assert notes == ["first\nsecond"]


def test_command_name_ends_at_newline(sqlite_tracker: Tracker, records) -> None:
    text = run(context(sqlite_tracker), f"show\n{records['open'].id[:8]}")
    assert "open-run" in text


def test_leaderboard_metric_ends_at_newline(sqlite_tracker: Tracker, records) -> None:
    text = run(context(sqlite_tracker), "leaderboard accuracy\ntag:t")
    assert "open-run" in text


@pytest.mark.parametrize(
    "text",
    [
        'summary team:"ml research"',
        "summary team:\u201cml research\u201d",
        'report team:"ml research" month:2026-11',
    ],
)
def test_quoted_team_with_space(sqlite_tracker: Tracker, text: str) -> None:
    sqlite_tracker.track("r1", researcher="alice", team="ml research", capture=False)
    reply = run(context(sqlite_tracker), text)
    assert "Unexpected" not in reply
    assert "ml research" in reply


def test_link_quoted_team_sets_team(sqlite_tracker: Tracker) -> None:
    people.add_person(sqlite_tracker, "alice")
    run(context(sqlite_tracker), 'link team:"ml research"')
    person = people.by_handle(sqlite_tracker, "alice")
    assert person is not None
    assert person.team == "ml research"


@pytest.mark.parametrize("mention", ["@here", "@ml-team", "#general"])
def test_share_with_group_is_refused(
    sqlite_tracker: Tracker, records, mention: str
) -> None:
    ctx = context(sqlite_tracker, group_mentions=(mention,))
    text = run(ctx, f"share {records['open'].id[:8]} @bob {mention}")
    assert f"Cannot share with {mention}: share with people, not groups" in text
    assert sqlite_tracker.get(records["open"].id).collaborators == ()


def test_note_on_private_run_of_other_is_hidden(
    sqlite_tracker: Tracker, records
) -> None:
    text = run(context(sqlite_tracker, "bob"), f"note {records['hidden'].id[:8]} hi")
    assert "No experiment" in text


def test_slash_metric_says_goal_kept(sqlite_tracker: Tracker) -> None:
    ctx = context(sqlite_tracker)
    execute(ctx, "metric wer minimize goal:0.1")

    kept = run(ctx, "metric wer lower")
    cleared = run(ctx, "metric wer min goal:none")
    nothing = run(ctx, "metric wer min goal:NONE")

    assert "Goal 0.1 kept." in kept
    assert "Goal 0.1 cleared." in cleared
    assert "No goal to clear." in nothing
    assert sqlite_tracker.metric_goal("wer") is None


def test_help_unknown_lists_commands(sqlite_tracker: Tracker) -> None:
    reply = execute(context(sqlite_tracker), "help nosuch")

    assert reply.error
    assert "No subcommand `nosuch`." in reply.text
    assert "`search`" in reply.text
    assert "`metric`" in reply.text
    assert "/exp help help" not in reply.text


def test_help_typo_suggests_commands(sqlite_tracker: Tracker) -> None:
    reply = execute(context(sqlite_tracker), "help serch")

    assert "Did you mean `/exp help search`" in reply.text
