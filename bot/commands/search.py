"""`/exp search`, `leaderboard`, `compare` and `summary`: reading many experiments."""

from __future__ import annotations

import re

from slack_sdk.models.blocks import Block

from bot.commands.arguments import slack_ids, take_options, words
from bot.commands.base import ID_HINT, CommandContext, Reply, UsageError, command
from bot.commands.schedules import unknown_team_warning
from bot.slack_text import code, escape, split_first
from bot.views import (
    SEARCH_PAGE_SIZE,
    MatchCount,
    comparison_blocks,
    leaderboard_blocks,
    parse_more_value,
    search_results,
    summary_blocks,
)
from tracker.analysis import MAX_COMPARED
from tracker.api import Tracker
from tracker.grammar import plural
from tracker.metric_names import known_metrics, missing_metrics
from tracker.query import parse

LEADERBOARD_SIZE = 10
# Matches counted for the "N experiments match" line. Counting stops there
# and the line reads "1,000+", because counting every match of a broad
# query on 100,000 experiments takes several times longer than the page.
MAX_COUNTED = 1000
# Metric names listed when a sort or leaderboard names an unknown one.
KNOWN_METRICS_SHOWN = 8
# `by:@alice` as typed in Slack means `by:alice` in the search language.
_PERSON_FIELD = re.compile(r"\b(by|with):@")

SEARCH_DETAILS = """\
Finds experiments with the search language that the CLI and channel \
subscriptions use too. Terms are joined with AND unless you write OR.
• words and `"quoted phrases"` match the name, description, notes and failure reason
• fields: `tag:nlp` `status:failed` `team:nlp` `project:mt` `by:@alice` \
`with:@bob` (a collaborator) `source:nemo_run` `id:3f2a9c`
• metrics: `accuracy>0.9` `val/loss<=0.3` `bleu!=0` (also `>=`, `<`, `=`)
• config: `config.lr=0.001` `config.model=transformer`
• dates: `since:2026-11-01` `until:2026-11-30`, or relative `since:7d` \
(also `h`, `w`)
• logic: `OR`, `NOT term` or `-term`, and parentheses
• order: `sort:accuracy` (best first, by the metric's direction), \
`sort:-created` (newest first)
Examples:
• `/exp search bert tag:nlp status:completed`
• `/exp search accuracy>0.9 since:7d sort:accuracy`
• `/exp search (tag:mt OR tag:asr) -status:cancelled by:@alice`
• `/exp search "learning rate" config.optimizer=adamw`
• `/exp search` (the newest experiments)"""

LEADERBOARD_DETAILS = """\
Ranks experiments by a metric, best first. Whether higher or lower is \
better follows the metric's direction: names with loss, error, perplexity, \
wer, mae, mse, rmse or latency are minimized, all others maximized, and \
`/exp metric` changes it. An optional query (the `/exp search` language) \
narrows the field.
Examples:
• `/exp leaderboard accuracy`
• `/exp leaderboard val/loss project:mt since:30d`
• `/exp leaderboard bleu tag:baseline OR tag:sweep`"""

COMPARE_DETAILS = f"""\
Compares 2 to {MAX_COMPARED} experiments: their metrics side by side with \
the best one marked, and the config keys whose values differ.
{ID_HINT}
Examples:
• `/exp compare ID ID`
• `/exp compare ID ID ID`"""

SUMMARY_DETAILS = """\
Shows a team's dashboard: totals by status, per-project progress, the \
completion rate (completed over completed + failed + cancelled), mean and \
median duration, the best experiment per metric, and the latest completed \
ones. Without `team:`, it shows your team when you have one (see \
`/exp link`), else all teams; `all` shows all teams.
Examples:
• `/exp summary`
• `/exp summary team:nlp`
• `/exp summary all`"""


@command(
    "search",
    usage="search QUERY",
    summary="find experiments, e.g. `tag:nlp accuracy>0.9`",
    details=SEARCH_DETAILS,
)
def search(ctx: CommandContext, args: str) -> Reply:
    query = search_query(args)
    records = ctx.tracker.search(query, viewer=ctx.viewer, limit=SEARCH_PAGE_SIZE)
    if len(records) < SEARCH_PAGE_SIZE:
        matches = MatchCount(len(records))
    else:
        matches = count_matches(
            ctx.tracker,
            query,
            viewer=ctx.viewer,
            end=len(records),
            page_size=SEARCH_PAGE_SIZE,
        )
    handles = {record.researcher for record in records}
    pages = search_results(
        records,
        query=query,
        total=matches.total,
        more_than_total=matches.more,
        slack_ids=slack_ids(ctx, handles),
        notice=unknown_metrics_notice(ctx, _sorted_metrics(query)),
    )
    if query:
        text = f"{matches.describe()} {matches.verb} `{escape(query)}`"
    else:
        text = "Experiments"
    followups = [Reply(text=text, blocks=blocks) for blocks in pages[1:]]
    return Reply(text=text, blocks=pages[0], followups=followups)


def count_matches(
    tracker: Tracker, query: str, *, viewer: str | None, end: int, page_size: int
) -> MatchCount:
    """Count the matches of `query` up to `MAX_COUNTED`, or further when paging.

    `end` is the number of results shown up to this page. The count goes
    at least `page_size` past it, so the Next button can give the size of
    the page after it.
    """
    cap = max(MAX_COUNTED, end + page_size)
    counted = tracker.count(query, viewer=viewer, limit=cap + 1)
    if counted > cap:
        return MatchCount(cap, more=True)
    return MatchCount(counted)


def search_query(args: str) -> str:
    return _PERSON_FIELD.sub(r"\1:", args.strip())


def next_page(tracker: Tracker, viewer: str, value: str) -> list[list[Block]]:
    """Build the messages of the results page that a Next button requests.

    `value` is the button's value (see `more_value`). Raises InvalidInput
    when it is not one.
    """
    page = parse_more_value(value)
    records = tracker.search(
        page.query, viewer=viewer, limit=page.page_size, offset=page.offset
    )
    matches = count_matches(
        tracker,
        page.query,
        viewer=viewer,
        end=page.offset + len(records),
        page_size=page.page_size,
    )
    return search_results(
        records,
        query=page.query,
        total=matches.total,
        more_than_total=matches.more,
        offset=page.offset,
        page_size=page.page_size,
    )


def unknown_metrics_notice(ctx: CommandContext, metrics: list[str]) -> str:
    """Return a line naming those of `metrics` no experiment has, or ""."""
    missing = missing_metrics(ctx.tracker, metrics, viewer=ctx.viewer)
    if not missing:
        return ""
    known = known_metrics(ctx.tracker, KNOWN_METRICS_SHOWN + 1, viewer=ctx.viewer)
    listed = ", ".join(code(name) for name in known[:KNOWN_METRICS_SHOWN])
    if len(known) > KNOWN_METRICS_SHOWN:
        listed += ", ..."
    names = ", ".join(code(name) for name in missing)
    subject = "the metric" if len(missing) == 1 else "the metrics"
    hint = f"known metrics: {listed}." if known else "none has logged a metric yet."
    return f":warning: No experiment has {subject} {names}; {hint}"


def _sorted_metrics(query: str) -> list[str]:
    # The search itself has parsed the query, so it is valid here.
    return [key.name for key in parse(query).sort if key.is_metric]


@command(
    "leaderboard",
    usage="leaderboard METRIC [QUERY]",
    summary="rank experiments by a metric, best first",
    details=LEADERBOARD_DETAILS,
)
def leaderboard(ctx: CommandContext, args: str) -> Reply:
    metric, rest = split_first(args)
    if not metric:
        raise UsageError("Name the metric to rank by, e.g. `accuracy`.")
    query = search_query(rest)
    entries = ctx.tracker.leaderboard(
        metric, query, limit=LEADERBOARD_SIZE, viewer=ctx.viewer
    )
    direction = ctx.tracker.directions(ctx.team or "")(metric)
    handles = {entry.experiment.researcher for entry in entries}
    blocks = leaderboard_blocks(
        metric,
        direction,
        entries,
        query=query,
        slack_ids=slack_ids(ctx, handles),
        notice="" if entries else unknown_metrics_notice(ctx, [metric]),
    )
    return Reply(text=f"Leaderboard for {escape(metric)}", blocks=blocks)


@command(
    "compare",
    usage="compare ID ID...",
    summary="compare the metrics and configs of experiments",
    details=COMPARE_DETAILS,
)
def compare(ctx: CommandContext, args: str) -> Reply:
    identifiers = list(dict.fromkeys(words(args)))
    if not 2 <= len(identifiers) <= MAX_COMPARED:
        raise UsageError(
            f"Give 2 to {MAX_COMPARED} different experiment ids; "
            f"got {len(identifiers)}."
        )
    comparison = ctx.tracker.compare(identifiers, viewer=ctx.viewer)
    handles = {record.researcher for record in comparison.experiments}
    blocks = comparison_blocks(comparison, slack_ids=slack_ids(ctx, handles))
    return Reply(text=f"Comparing {len(identifiers)} experiments", blocks=blocks)


@command(
    "summary",
    usage="summary [team:X]",
    summary="a team's totals, progress and best results",
    details=SUMMARY_DETAILS,
)
def summary(ctx: CommandContext, args: str) -> Reply:
    options, rest = take_options(words(args), ["team"])
    if rest not in ([], ["all"]):
        raise UsageError(f"Unexpected {' '.join(rest)!r}: use `team:NAME` or `all`.")
    team = options.get("team") or (None if rest else ctx.team)
    result = ctx.tracker.summary(team, viewer=ctx.viewer)
    handles = {record.researcher for record in result.latest_completed}
    notice = ""
    if result.total == 0 and team:
        notice = unknown_team_warning(ctx, team, "summary").strip()
    blocks = summary_blocks(result, slack_ids=slack_ids(ctx, handles), notice=notice)
    scope = f"team {escape(team)}" if team else "all teams"
    text = f"Summary of {scope}: {plural(result.total, 'experiment')}"
    return Reply(text=text, blocks=blocks)
