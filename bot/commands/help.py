"""`/exp help [command]`: the list of subcommands, or one explained."""

from __future__ import annotations

import difflib

from slack_sdk.models.blocks import Block

from bot.commands.base import (
    COMMANDS,
    Command,
    CommandContext,
    Reply,
    command,
)
from bot.slack_text import code
from bot.views.blocks import context, escape, header, pack_lines, section

# Subcommands by what they are for; any not listed goes under "More".
GROUPS = (
    (
        "Find and read",
        ("search", "show", "compare", "leaderboard", "summary", "report"),
    ),
    ("Change an experiment", ("share", "note", "tag")),
    ("Channel notifications", ("subscribe", "subscriptions", "unsubscribe")),
    ("Scheduled reports", ("schedule", "schedules", "unschedule")),
    ("Set up", ("link", "metric", "help")),
)

HELP_DETAILS = """\
Lists the subcommands, or explains one with examples. Replies are visible \
only to you; most have a *Post to channel* button.
Examples:
• `/exp help`
• `/exp help search`"""


@command(
    "help",
    usage="help [COMMAND]",
    summary="list the subcommands, or explain one",
    details=HELP_DETAILS,
)
def help_command(ctx: CommandContext, args: str) -> Reply:
    name = args.strip().lower().removeprefix("/exp").strip()
    if not name:
        return Reply(text="expbot commands", blocks=overview_blocks())
    found = COMMANDS.get(name)
    if found is None:
        return unknown_help_topic(name)
    return Reply(text=f"/exp {found.usage}", blocks=command_blocks(found))


def unknown_help_topic(name: str) -> Reply:
    """Reply to `/exp help NAME` for no subcommand, with the names that exist."""
    guesses = difflib.get_close_matches(name, list(COMMANDS), n=3)
    if guesses:
        hint = " or ".join(f"`/exp help {guess}`" for guess in guesses)
        text = f"No subcommand {code(name)}. Did you mean {hint}?"
    else:
        names = ", ".join(code(command) for command in sorted(COMMANDS))
        text = f"No subcommand {code(name)}. The subcommands are {names}."
    return Reply(text=f":question: {text}", shareable=False, error=True)


def command_blocks(found: Command) -> list[Block]:
    # Help text is mrkdwn, but `<`, `>` and `&` in examples such as
    # `accuracy>0.9` must still be escaped.
    usage = escape(f"/exp {found.usage}")
    details = escape(found.details).splitlines()
    return [
        header(f"/exp {found.name}"),
        section(
            f"*Usage:* `{usage}`\n{escape(found.summary[:1].upper())}"
            f"{escape(found.summary[1:])}."
        ),
        *[section(chunk) for chunk in pack_lines(details)],
        context("All subcommands: `/exp help`"),
    ]


def overview_blocks() -> list[Block]:
    blocks: list[Block] = [header("expbot: track and share experiments")]
    listed: set[str] = set()
    for title, names in GROUPS:
        present = [COMMANDS[name] for name in names if name in COMMANDS]
        listed.update(found.name for found in present)
        if present:
            blocks.append(section(_group_text(title, present)))
    rest = [found for name, found in sorted(COMMANDS.items()) if name not in listed]
    if rest:
        blocks.append(section(_group_text("More", rest)))
    blocks.append(
        context(
            "Details and examples: `/exp help COMMAND`. Ids accept any unique "
            "prefix of 6+ characters."
        )
    )
    return blocks


def _group_text(title: str, commands: list[Command]) -> str:
    lines = [f"*{title}*"]
    lines.extend(
        f"`/exp {escape(found.usage)}`: {escape(found.summary)}" for found in commands
    )
    return "\n".join(lines)
