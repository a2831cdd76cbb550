"""`expbot shell`: the `/exp` commands in a terminal, with no Slack at all.

The shell runs the same handlers as the bot, as one researcher, against
the local database (or, with `--demo`, a scratch one filled with a month
of a team's experiments), and prints each reply rendered as text. It reads
from a readline prompt on a terminal, else line by line from stdin.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

import bot.commands  # noqa: F401  (registers the subcommands)
from bot import demo
from bot.commands.base import COMMANDS, CommandContext, Reply
from bot.commands.search import next_page
from bot.router import execute
from bot.settings import Settings
from bot.views import ACTION_MORE, render_text
from bot.views.render_text import to_plain
from tracker import Tracker, people, validation
from tracker.api import default_researcher
from tracker.errors import ExpbotError
from tracker.grammar import plural

PROMPT = "/exp "
LOCAL_USER_ID = "ULOCALSHELL"
QUIT_WORDS = ("quit", "exit", r"\q")
# Words that press the Next button of the last search's results.
NEXT_WORDS = ("next", "more")
NEXT_HINT = "(Type `next` for the next page.)\n"
RULE = "-" * 60


def run_shell(
    settings: Settings,
    *,
    user: str | None = None,
    demo: bool = False,
    admin: bool = False,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
) -> int:
    """Run the shell until end of input or `quit`; return the exit status."""
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    with _database(settings, demo, stdout) as tracker:
        handle = validation.handle(user or _default_user(demo))
        ctx = shell_context(tracker, settings, handle, admin)
        interactive = stdin.isatty() and stdout.isatty()
        if interactive:
            _setup_readline()
            print(_banner(handle, demo), file=stdout)
        # The value of the last reply's Next button, which `next` presses.
        more: str | None = None
        for line in _lines(stdin, interactive):
            text = line.strip()
            if text in QUIT_WORDS:
                break
            if not text or text.startswith("#"):
                continue
            text = without_command_name(text)
            if text in NEXT_WORDS:
                output, more = _next_results(ctx, more)
            else:
                reply = execute(ctx, text)
                more = next_button_value(
                    [reply.blocks, *(f.blocks for f in reply.followups)]
                )
                output = render_reply(reply)
            if more is not None:
                output += NEXT_HINT
            print(output, file=stdout, flush=True)
    return 0


def next_button_value(messages: Iterable[Sequence[Any] | None]) -> str | None:
    """Return the value of the Next button in `messages`, if one has it."""
    for blocks in messages:
        for block in blocks or []:
            data = block.to_dict() if hasattr(block, "to_dict") else block
            for element in data.get("elements") or []:
                if element.get("action_id") == ACTION_MORE:
                    return str(element.get("value"))
    return None


def _next_results(ctx: CommandContext, more: str | None) -> tuple[str, str | None]:
    """Render the page that the last Next button requests, and its own Next value."""
    if more is None:
        return "No next page: the last reply has no Next button.\n", None
    try:
        messages = next_page(ctx.tracker, ctx.handle, more)
    except ExpbotError as exc:
        return f"{exc}\n", None
    text = f"\n{RULE}\n".join(render_text(blocks) for blocks in messages) + "\n"
    return text, next_button_value(messages)


def without_command_name(text: str) -> str:
    """Remove a leading `/exp` in any case, as Slack does before the bot receives it.

    `/exp` alone becomes "", for which the router returns the help list.
    """
    words = text.split(maxsplit=1)
    if words[0].lower() != PROMPT.strip():
        return text
    return words[1] if len(words) > 1 else ""


def render_reply(reply: Reply) -> str:
    """Render a reply and its followups as terminal text."""
    parts = []
    for part in [reply, *reply.followups]:
        if part.blocks:
            parts.append(render_text(part.blocks))
        else:
            parts.append(to_plain(part.text))
    return f"\n{RULE}\n".join(parts) + "\n"


@contextlib.contextmanager
def _database(settings: Settings, with_demo: bool, stdout: TextIO) -> Iterator[Tracker]:
    """Open the tracker; with the demo, on a scratch database removed after."""
    if not with_demo:
        # A database named by URL must exist: an empty new one at a mistyped
        # path would show nothing. The default one in the home folder is
        # created, so that the shell works right after installing.
        named = settings.database_url is not None
        tracker = Tracker(settings.tracker_database_url, create=not named)
        try:
            yield tracker
        finally:
            tracker.close()
        return
    home = Path(tempfile.mkdtemp(prefix="expbot-demo-"))
    try:
        print("Filling a scratch database with a month of experiments...", file=stdout)
        tracker = Tracker(f"sqlite:///{home / 'expbot.db'}", clock=demo.Clock())
        count = len(demo.fill(tracker))
        recorded = plural(count, "experiment")
        print(f"Recorded {recorded} in {home}.", file=stdout, flush=True)
        try:
            yield tracker
        finally:
            tracker.close()
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _default_user(with_demo: bool) -> str:
    # In the demo, the default user is one of its researchers, so that
    # `by:` searches and changes to "your" experiments work at once.
    return next(iter(demo.RESEARCHERS)) if with_demo else default_researcher()


def shell_context(
    tracker: Tracker, settings: Settings, handle: str, admin: bool = False
) -> CommandContext:
    """Return the context the shell runs commands in, as researcher `handle`."""
    person = people.by_handle(tracker, handle)
    # A handle linked to a Slack user acts as that user, so what it creates,
    # such as a report schedule, belongs to the same owner as in Slack.
    linked = person.slack_user_id if person else None
    return CommandContext(
        tracker=tracker,
        settings=settings,
        user_id=linked or LOCAL_USER_ID,
        handle=handle,
        is_admin=admin,
        channel_id="local",
        # Without a team on the person, $EXPBOT_TEAM, as the CLI uses it.
        team=(person.team if person else None) or os.environ.get("EXPBOT_TEAM") or None,
        client=None,
    )


def _lines(stdin: TextIO, interactive: bool) -> Iterator[str]:
    if not interactive:
        yield from stdin
        return
    while True:
        try:
            yield input(PROMPT)
        except EOFError:
            print()
            return
        except KeyboardInterrupt:
            # Ctrl-C drops the line being typed, as in other shells.
            print()


def _banner(handle: str, with_demo: bool) -> str:
    where = "a scratch demo database" if with_demo else "your local database"
    return (
        f"expbot shell: you are {handle}, on {where}.\n"
        "Type a command as in Slack, e.g. `help`, `search status:failed`, "
        "`summary`.\nCtrl-D or `quit` leaves."
    )


def _setup_readline() -> None:
    try:
        import readline
    except ImportError:  # Windows without pyreadline
        return

    def complete(text: str, state: int) -> str | None:
        buffer = readline.get_line_buffer().removeprefix("/exp").lstrip()
        if " " in buffer:
            return None
        matches = [name + " " for name in sorted(COMMANDS) if name.startswith(text)]
        return matches[state] if state < len(matches) else None

    readline.set_completer(complete)
    readline.parse_and_bind("tab: complete")
