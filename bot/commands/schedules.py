"""`/exp report`, `schedule`, `schedules` and `unschedule`: team reports.

`report` replies at once with a month's (or an ISO week's) report. A
schedule posts the report of the last complete period to its channel on
a day and time in a time zone; the scheduler process sends it.
"""

from __future__ import annotations

import datetime as dt
import logging

from slack_sdk.errors import SlackApiError, SlackClientError

from bot import schedule_store as store
from bot.commands.arguments import take_options, words
from bot.commands.base import CommandContext, Reply, UsageError, command
from bot.report_delivery import slack_ids_for
from bot.schedule_rules import (
    MAX_MONTH_DAY,
    ScheduleRecord,
    cron_trigger,
    parse_at,
    parse_cadence,
    parse_day,
    parse_timezone,
)
from bot.slack_text import escape
from bot.views.report import report_blocks
from tracker import people, validation
from tracker.errors import InvalidInput
from tracker.report_periods import (
    MONTH,
    month_period,
    parse_month,
    parse_week,
    period_containing,
    week_period,
    zone,
)
from tracker.report_render import headline
from tracker.reports import build_report

logger = logging.getLogger(__name__)

MAX_PER_CHANNEL = 10
# Known teams that the unknown-team warning lists, so a large workspace
# does not get a long reply.
MAX_TEAMS_SHOWN = 10

REPORT_DETAILS = """\
Shows a team's report for a calendar month (default: the last complete \
month) or an ISO week: experiments created, completed, failed and \
cancelled, the completion rate, durations, best results per metric, \
projects, researchers, collaboration, reproducibility and documentation \
coverage, and the failures with their reasons, each against the period \
before. Months are counted in `tz:` (default: your Slack time zone). \
Without `team:` it reports your team (see `/exp link`).
Examples:
• `/exp report` (your team, last month)
• `/exp report team:nlp month:2026-11`
• `/exp report team:speech week:2026-W46 tz:Europe/Berlin`"""

SCHEDULE_DETAILS = f"""\
Posts a team's report to this channel every month or week, with charts in \
the message's thread. A monthly report on `day:` 1 to {MAX_MONTH_DAY} \
covers the previous calendar month; a weekly one on `day:` mon to sun (or \
1 to 7) covers the previous ISO week. Days 29 to 31 are not allowed \
because some months lack them. Defaults: `day:1`, `at:09:00`, and your \
Slack time zone. Scheduling the same team and cadence again in a channel \
changes that schedule. Invite the bot to the channel (`/invite @expbot`) \
so it can upload the charts.
Examples:
• `/exp schedule monthly`
• `/exp schedule monthly team:nlp day:1 at:09:00 tz:Europe/Berlin`
• `/exp schedule weekly team:speech day:mon at:08:30 tz:America/New_York`"""

SCHEDULES_DETAILS = """\
Lists this channel's report schedules, numbered for `/exp unschedule N`.
Example: `/exp schedules`"""

UNSCHEDULE_DETAILS = """\
Stops report schedule number N of this channel, as `/exp schedules` \
numbers them. Its owner or an expbot admin may do so.
Example: `/exp unschedule 1`"""


@command(
    "report",
    usage="report [team:X] [month:YYYY-MM | week:YYYY-Www] [tz:Area/City]",
    summary="show a team's report for a month or a week",
    details=REPORT_DETAILS,
)
def report(ctx: CommandContext, args: str) -> Reply:
    options, rest = take_options(words(args), ["team", "month", "week", "tz"])
    if rest:
        raise UsageError(f"`report` takes only options, and {rest[0]!r} is not one.")
    if "month" in options and "week" in options:
        raise UsageError("Give `month:` or `week:`, not both.")
    team = _team(ctx, options.get("team"), "report")
    tz = parse_timezone(options["tz"]) if "tz" in options else user_timezone(ctx)

    if "week" in options:
        period = week_period(*parse_week(options["week"]), tz)
    elif "month" in options:
        period = month_period(*parse_month(options["month"]), tz)
    else:
        today = ctx.tracker.clock().astimezone(zone(tz)).date()
        period = period_containing(MONTH, today, tz).previous()

    built = build_report(ctx.tracker, team, period)
    ids = slack_ids_for(ctx.tracker, built) if ctx.client is not None else {}
    return Reply(text=headline(built), blocks=report_blocks(built, slack_ids=ids))


@command(
    "schedule",
    usage="schedule monthly|weekly [team:X] [day:N] [at:HH:MM] [tz:Area/City]",
    summary="post a team's report to this channel every month or week",
    details=SCHEDULE_DETAILS,
    changes_data=True,
)
def schedule(ctx: CommandContext, args: str) -> Reply:
    options, rest = take_options(words(args), ["team", "day", "at", "tz"])
    if len(rest) != 1:
        raise UsageError("Say `monthly` or `weekly`, e.g. `/exp schedule monthly`.")
    cadence = parse_cadence(rest[0])
    day = parse_day(cadence, options.get("day"))
    hour, minute = parse_at(options.get("at"))
    tz = parse_timezone(options["tz"]) if "tz" in options else user_timezone(ctx)
    team = _team(ctx, options.get("team"), "schedule monthly")

    existing = store.active_schedules(ctx.tracker, ctx.channel_id)
    replaces = any(s.team == team and s.cadence == cadence for s in existing)
    if not replaces and len(existing) >= MAX_PER_CHANNEL:
        raise UsageError(
            f"This channel has {len(existing)} report schedules, the most it may "
            "have. Remove one with `/exp unschedule N`."
        )
    saved, created = store.save_schedule(
        ctx.tracker,
        channel_id=ctx.channel_id,
        team=team,
        cadence=cadence,
        day=day,
        hour=hour,
        minute=minute,
        timezone=tz,
        created_by=ctx.user_id,
    )
    _tell_scheduler()
    logger.info("schedule %s saved by %s: %s", saved.id, ctx.user_id, saved.describe())

    verb = "Scheduled" if created else "Changed the schedule to"
    text = (
        f":calendar: {verb} the {cadence} report of team *{escape(team)}* in this "
        f"channel: {escape(saved.describe())}. The next one comes "
        f"{_next_firing(saved, ctx.tracker.clock())}."
    )
    text += unknown_team_warning(ctx, team)
    if not _bot_is_member(ctx):
        text += (
            " Invite me with `/invite @expbot` here so that I can upload the charts."
        )
    return Reply(text=text, shareable=False)


def unknown_team_warning(
    ctx: CommandContext, team: str, figures: str = "report"
) -> str:
    """Warn about a team with no experiments, which is often a typo in `team:`.

    `figures` names what stays empty, such as "report" or "summary". A
    schedule is kept anyway, because a new team may log its first
    experiment before the first report is due.
    """
    teams = ctx.tracker.teams()
    if team in teams:
        return ""
    listed = ", ".join(f"`{escape(name)}`" for name in teams[:MAX_TEAMS_SHOWN])
    more = (
        f" and {len(teams) - MAX_TEAMS_SHOWN} more"
        if len(teams) > MAX_TEAMS_SHOWN
        else ""
    )
    known = f" Teams with experiments: {listed}{more}." if teams else ""
    return (
        f" :warning: No experiment records team *{escape(team)}* yet, so its "
        f"{figures} is empty until one does; check the name.{known}"
    )


@command(
    "schedules",
    usage="schedules",
    summary="list this channel's report schedules",
    details=SCHEDULES_DETAILS,
)
def schedules(ctx: CommandContext, args: str) -> Reply:
    if args.strip():
        raise UsageError("`schedules` takes no arguments.")
    found = store.active_schedules(ctx.tracker, ctx.channel_id)
    if not found:
        return Reply(
            text="This channel has no report schedules. Add one with "
            "`/exp schedule monthly team:NAME`."
        )
    now = ctx.tracker.clock()
    owners = _owner_names(ctx, [s.created_by for s in found if s.created_by])
    lines = [
        f"{number}. Team *{escape(s.team)}*, {escape(s.describe())}; next "
        f"{_next_firing(s, now)}"
        + (f", by {owners[s.created_by]}" if s.created_by else "")
        for number, s in enumerate(found, start=1)
    ]
    return Reply(text="This channel's report schedules:\n" + "\n".join(lines))


def _owner_names(ctx: CommandContext, user_ids: list[str]) -> dict[str, str]:
    """Map schedule owners' Slack user ids to mentions, or in the shell to handles."""
    if ctx.client is not None:
        return {user_id: f"<@{user_id}>" for user_id in user_ids}
    # `expbot shell` has no Slack to show a user id as a name.
    handles = people.handles_for(ctx.tracker, user_ids)
    handles.setdefault(ctx.user_id, ctx.handle)
    return {user_id: escape(handles.get(user_id, user_id)) for user_id in user_ids}


@command(
    "unschedule",
    usage="unschedule N",
    summary="stop one of this channel's report schedules",
    details=UNSCHEDULE_DETAILS,
    changes_data=True,
)
def unschedule(ctx: CommandContext, args: str) -> Reply:
    text = args.strip()
    if not text.isdigit():
        raise UsageError(
            f"Invalid schedule number {text!r}: give the number that "
            "`/exp schedules` lists, e.g. `/exp unschedule 1`."
        )
    number = int(text)
    found = store.active_schedules(ctx.tracker, ctx.channel_id)
    if not 1 <= number <= len(found):
        raise UsageError(
            f"This channel has no report schedule {number}: it has {len(found)}. "
            "`/exp schedules` lists them."
        )
    removed = store.deactivate_schedule(
        ctx.tracker,
        found[number - 1].id,
        channel_id=ctx.channel_id,
        user_id=ctx.user_id,
        is_admin=ctx.is_admin,
    )
    _tell_scheduler()
    return Reply(
        text=f"Stopped schedule {number}: the {removed.cadence} report of team "
        f"*{escape(removed.team)}*.",
        shareable=False,
    )


def user_timezone(ctx: CommandContext) -> str:
    """Return the user's Slack time zone, or UTC when it cannot be read."""
    if ctx.client is None:
        return "UTC"
    try:
        name = str(ctx.client.users_info(user=ctx.user_id)["user"].get("tz") or "")
        zone(name)
    except (SlackApiError, SlackClientError, KeyError, TypeError, InvalidInput):
        return "UTC"
    return name


def _team(ctx: CommandContext, option: str | None, example: str) -> str:
    team = option or ctx.team
    if not team:
        raise UsageError(
            f"Name the team, e.g. `/exp {example} team:nlp`, or set yours with "
            "`/exp link HANDLE team:nlp`."
        )
    return validation.label(team, "team")


def _next_firing(schedule: ScheduleRecord, now: dt.datetime) -> str:
    firing = cron_trigger(schedule).get_next_fire_time(None, now)
    if firing is None:
        return "never"
    local = firing.astimezone(zone(schedule.timezone))
    return f"{local:%a %d %b %Y %H:%M} {schedule.timezone}"


def _bot_is_member(ctx: CommandContext) -> bool:
    """Tell whether the bot is in the channel, or True when it cannot tell."""
    if ctx.client is None or ctx.channel_id.startswith("D"):
        return True
    try:
        channel = ctx.client.conversations_info(channel=ctx.channel_id)["channel"]
    except (SlackApiError, SlackClientError, KeyError):
        return True
    return bool(channel.get("is_member", True))


def _tell_scheduler() -> None:
    from bot.scheduler import notify_schedules_changed

    try:
        notify_schedules_changed()
    except Exception:
        # The leader reconciles its jobs with the table every minute anyway.
        logger.warning("could not update the scheduler's jobs", exc_info=True)
