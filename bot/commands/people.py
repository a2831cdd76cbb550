"""`/exp link` and `/exp metric`: who you are, and which way a metric is better."""

from __future__ import annotations

import math

from bot.commands.arguments import handle_word, take_options, words
from bot.commands.base import CommandContext, Reply, UsageError, command
from bot.identity import Directory, Identity
from bot.slack_text import escape
from tracker import directions, people
from tracker.errors import PermissionDenied

# The `goal:` value that removes a metric's goal.
CLEAR_GOAL = "none"

LINK_DETAILS = """\
Links your Slack account to a researcher handle: the name your experiments \
record as their researcher (`$EXPBOT_RESEARCHER` or `$USER` in the CLI). \
expbot links you by your Slack email on first use; link explicitly when \
that guess is wrong. `team:NAME` also sets your team, which `/exp summary` \
and `/exp report` use by default. A handle already in use (in the people \
list, or as an experiment's researcher or collaborator) is yours to link \
only when its stored email is your Slack email. Otherwise an admin links \
it, mentioning you. From the CLI, store your Slack email with \
`expbot people add HANDLE --email ADDRESS` first. If someone else links a \
free handle at the same moment as you, one of you gets it and the other \
is told it was just taken.
Examples:
• `/exp link alice`
• `/exp link alice team:nlp`
• `/exp link` (shows your handle)
• `/exp link bob @bob` (admins)"""

METRIC_DETAILS = """\
Sets whether larger (`max`, or `maximize`, `maximise`, `higher`) or smaller \
(`min`, or `minimize`, `minimise`, `lower`) values of a metric are better; \
leaderboards, `sort:` and best results follow it. By default names \
with loss, error, perplexity, wer, mae, mse, rmse or latency are minimized \
and all others maximized. `goal:VALUE` makes reaching that value (in the \
metric's direction) write a `threshold` event that subscribed channels \
hear about. Without `goal:`, the metric keeps its goal, and `goal:none` \
removes it. `team:NAME` limits the setting to one team, whose setting wins \
over the workspace's.
Examples:
• `/exp metric bleu max`
• `/exp metric val/loss min goal:0.25`
• `/exp metric wer min team:speech goal:0.09`
• `/exp metric val/loss min goal:none` (removes the goal)
• `/exp metric accuracy` (shows its direction)
• `/exp metric` (lists the settings)"""


@command(
    "link",
    usage="link HANDLE [team:X]",
    summary="link your Slack account to your researcher handle",
    details=LINK_DETAILS,
    changes_data=True,
)
def link(ctx: CommandContext, args: str) -> Reply:
    options, rest = take_options(words(args), ["team"])
    if not rest and not options:
        return _whoami(ctx)
    if not rest:
        person = people.set_team(ctx.tracker, ctx.handle, options["team"])
        return Reply(text=f"Your team is now `{escape(person.team)}`.")
    if len(rest) > 2:
        raise UsageError("Give one handle, and for admins one `@user` to link.")
    if ctx.client is None:
        # `expbot shell` has no Slack user to link; --user picks the handle.
        return Reply(
            text=f"In `expbot shell` you are `{escape(ctx.handle)}`. Start it "
            "with `--user HANDLE` to act as someone else."
        )
    handle = handle_word(rest[0])
    identity = _target(ctx, rest[1] if len(rest) == 2 else None)
    directory = Directory(ctx.tracker, ctx.settings, ctx.client)
    person = directory.link(identity, handle, team=options.get("team"))
    subject = (
        "You are" if identity.user_id == ctx.user_id else f"<@{identity.user_id}> is"
    )
    team = f" in team `{escape(person.team)}`" if person.team else ""
    return Reply(
        text=f":link: {subject} now `{escape(person.handle)}`{team}. Experiments "
        f"recorded by `{escape(person.handle)}` are yours to change and share."
    )


def _whoami(ctx: CommandContext) -> Reply:
    team = f", team `{escape(ctx.team)}`" if ctx.team else ", no team"
    return Reply(
        text=f"You are `{escape(ctx.handle)}`{team}. Change it with "
        "`/exp link HANDLE [team:NAME]`."
    )


def _target(ctx: CommandContext, user_word: str | None) -> Identity:
    """Return who to link: the caller, or for admins a mentioned user."""
    me = Identity(ctx.user_id, ctx.handle, ctx.team, ctx.is_admin)
    if user_word is None:
        return me
    if not ctx.is_admin:
        raise PermissionDenied(
            "Only an expbot admin can link another user; link yourself with "
            "`/exp link HANDLE`."
        )
    person = people.by_handle(ctx.tracker, handle_word(user_word))
    if person is None or person.slack_user_id is None:
        raise UsageError(f"{user_word} is not a Slack user expbot knows: mention them.")
    return Identity(person.slack_user_id, person.handle, person.team or None, True)


@command(
    "metric",
    usage="metric NAME max|min [goal:VALUE|goal:none]",
    summary="set whether a metric is maximized or minimized",
    details=METRIC_DETAILS,
    changes_data=True,
)
def metric(ctx: CommandContext, args: str) -> Reply:
    options, rest = take_options(words(args), ["goal", "team"])
    if not rest and not options:
        return _list_directions(ctx)
    if len(rest) == 1 and not options:
        direction = ctx.tracker.directions(ctx.team or "")(rest[0])
        return Reply(text=f"`{escape(rest[0])}` is {_better(direction)}.")
    if len(rest) != 2:
        raise UsageError("Give a metric name and `max` or `min`.")
    name, direction = rest
    clear_goal = options.get("goal", "").lower() == CLEAR_GOAL
    goal = None if clear_goal else _goal(options.get("goal"))
    team = options.get("team", "")
    previous = ctx.tracker.metric_goal(name, team)
    ctx.tracker.set_metric_direction(
        name, direction, team=team, goal=goal, clear_goal=clear_goal, actor=ctx.handle
    )
    chosen = ctx.tracker.directions(team)(name)
    scope = f"team `{escape(team)}`" if team else "the whole workspace"
    if goal is not None:
        goal_text = f" Reaching {goal:g} writes a `threshold` event."
    else:
        change = directions.goal_change(previous, goal, clear_goal)
        goal_text = f" {change[0].upper()}{change[1:]}." if change else ""
    return Reply(
        text=f":straight_ruler: `{escape(name)}` is now {_better(chosen)} "
        f"for {scope}.{goal_text}"
    )


def _goal(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        goal = float(value)
    except ValueError:
        raise UsageError(f"Goal {value!r} is not a number, e.g. `goal:0.9`.") from None
    if not math.isfinite(goal):
        raise UsageError(f"Goal {value!r} must be a finite number, e.g. `goal:0.9`.")
    return goal


def _better(direction: str) -> str:
    return (
        "minimized (lower is better)"
        if direction == "min"
        else ("maximized (higher is better)")
    )


def _list_directions(ctx: CommandContext) -> Reply:
    rows = ctx.tracker.metric_directions()
    if not rows:
        return Reply(
            text="No metric directions are set; names decide (loss, error, "
            "perplexity, wer, mae, mse, rmse and latency are minimized). "
            "Set one with `/exp metric NAME max|min`."
        )
    lines = []
    for row in rows:
        scope = f"team {escape(row['team'])}" if row["team"] else "workspace"
        goal = f", goal {row['goal']:g}" if row["goal"] is not None else ""
        lines.append(f"• `{escape(row['metric'])}` {row['direction']} ({scope}{goal})")
    return Reply(text="*Metric directions*\n" + "\n".join(lines))
