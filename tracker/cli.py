"""The tracker's commands of the `expbot` CLI.

`build_parser()` returns the parser with the tracker's subcommands; the bot
adds `serve`, `shell` and its own commands to it and owns the entry point.
Errors are one line on stderr: exit status 1 for not found or invalid
input, 2 for usage errors. Read commands print only JSON with `--json`.
"""

from __future__ import annotations

import argparse
import difflib
import json
import math
import os
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from tracker import cli_format, cli_people, directions, metric_names
from tracker.api import Tracker, default_researcher
from tracker.cli_numbers import finite_number, whole_number
from tracker.configs import load_config_file
from tracker.errors import ExpbotError, InvalidInput
from tracker.grammar import plural
from tracker.query import parse

Command = Callable[[Tracker, argparse.Namespace], int]
ID_HELP = "experiment id or a unique prefix of 6+ characters"
# Teams that the unknown-team warning lists.
TEAMS_LISTED = 10
# Options of `expbot` itself, which argparse takes only before the command.
GLOBAL_OPTIONS = ("--database-url",)


class Parser(argparse.ArgumentParser):
    """An argparse parser whose usage errors are one line and exit 2."""

    def error(self, message: str) -> NoReturn:
        hint = _closest_choice(message)
        self.exit(2, f"{self.prog}: {message}.{hint} Run `{self.prog} --help`.\n")


_INVALID_CHOICE = re.compile(r"invalid choice: '([^']*)' \(choose from (.*)\)")


def _closest_choice(message: str) -> str:
    """Suggest the choice closest to a mistyped one, as " Did you mean ...?"."""
    found = _INVALID_CHOICE.search(message)
    if found is None:
        return ""
    typed, listed = found.groups()
    choices = re.findall(r"'([^']*)'", listed)
    close = difflib.get_close_matches(typed, choices, n=1)
    return f" Did you mean `{close[0]}`?" if close else ""


def build_parser() -> Parser:
    parser = Parser(
        prog="expbot",
        description="Track ML experiments and share them with your team in Slack.",
    )
    parser.add_argument(
        "--database-url",
        help="database URL (default: $EXPBOT_DATABASE_URL, else SQLite in "
        "$EXPBOT_HOME/expbot.db)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    _add_lifecycle_commands(commands)
    _add_collaboration_commands(commands)
    _add_read_commands(commands)
    _add_admin_commands(commands)
    cli_people.register(commands)
    # Imports no nemo_run: the command loads it only when it runs.
    from tracker.nemo.cli import register_cli

    register_cli(commands)
    return parser


SEARCH_SYNTAX = """\
query syntax (terms are joined with AND unless OR is written):
  words, "quoted phrases"   match name, description, notes and failure reason
  fields                    tag:nlp status:failed team:nlp project:mt by:alice
                            with:bob source:nemo_run id:3f2a9c
  metrics                   accuracy>0.9 val/loss<=0.3 bleu!=0 (= != < <= > >=)
  config                    config.lr=0.001 config.model=transformer
  dates                     since:2026-11-01 until:2026-11-30 since:7d (h, d, w)
  logic                     OR, NOT term or -term, parentheses
  order                     sort:accuracy (best first), sort:-created (newest)"""


def _command(
    commands: Any, name: str, handler: Command, help: str, *, read: bool = False
) -> Parser:
    sub: Parser = commands.add_parser(name, help=help, description=help)
    sub.set_defaults(handler=handler)
    if read:
        sub.add_argument("--json", action="store_true", help="print JSON only")
    return sub


def _read_command(commands: Any, name: str, handler: Command, help: str) -> Parser:
    """Add a subcommand with --json that fails on a missing SQLite file.

    A read on a mistyped path would otherwise create an empty database
    there and report that nothing matches.
    """
    sub = _command(commands, name, handler, help, read=True)
    sub.set_defaults(read_only=True)
    return sub


def _add_lifecycle_commands(commands: Any) -> None:
    sub = _command(
        commands, "track", cmd_track, "record a new running experiment", read=True
    )
    sub.add_argument("name", help="a short name, e.g. bert-base-lr3e-4")
    sub.add_argument("--description", default="", help="what the experiment tests")
    sub.add_argument("--config", metavar="FILE", help="a JSON or YAML config file")
    sub.add_argument(
        "--tag", action="append", default=[], metavar="TAG", help="a tag (repeatable)"
    )
    sub.add_argument("--team", help="team name (default: $EXPBOT_TEAM or default)")
    sub.add_argument("--project", default="", help="project name")
    sub.add_argument(
        "--researcher", help="owner (default: $EXPBOT_RESEARCHER, then $USER)"
    )
    sub.add_argument(
        "--private", action="store_true", help="visible only to you and collaborators"
    )

    sub = _command(commands, "log", cmd_log, "log metric values, e.g. loss=0.3")
    sub.add_argument("id", help=ID_HELP)
    sub.add_argument(
        "metrics", nargs="+", metavar="KEY=VALUE", help="e.g. accuracy=0.91"
    )
    sub.add_argument(
        "--step", type=whole_number("--step 100"), help="training step of these values"
    )

    sub = _command(
        commands, "complete", cmd_complete, "mark a running experiment completed"
    )
    sub.add_argument("id", help=ID_HELP)
    sub.add_argument("metrics", nargs="*", metavar="KEY=VALUE", help="final metrics")
    sub.add_argument(
        "--artifact",
        action="append",
        default=[],
        metavar="URI",
        help="URI of an output, e.g. s3://models/bert (repeatable)",
    )

    sub = _command(commands, "fail", cmd_fail, "mark a running experiment failed")
    sub.add_argument("id", help=ID_HELP)
    sub.add_argument("--reason", default="", help="why it failed")

    sub = _command(commands, "cancel", cmd_cancel, "cancel a running experiment")
    sub.add_argument("id", help=ID_HELP)
    sub.add_argument("--reason", default="", help="why it was cancelled")


def _add_collaboration_commands(commands: Any) -> None:
    sub = _command(commands, "share", cmd_share, "add collaborators to an experiment")
    sub.add_argument("id", help=ID_HELP)
    sub.add_argument("users", nargs="+", metavar="USER", help="researcher handles")

    sub = _command(commands, "note", cmd_note, "add a note to an experiment")
    sub.add_argument("id", help=ID_HELP)
    sub.add_argument("text", nargs="+", help="the note; quoting is optional")

    sub = _command(commands, "tag", cmd_tag, "add (TAG or +TAG) or remove (-TAG) tags")
    sub.add_argument("id", help=ID_HELP)
    # `-TAG` looks like an option to argparse; `parse_args` below collects
    # such words into `changes` for this command.
    sub.add_argument(
        "changes",
        nargs="*",
        metavar="[+|-]TAG",
        help="TAG or +TAG adds a tag, -TAG removes it",
    )

    sub = _command(
        commands,
        "metric",
        cmd_metric,
        "set whether a metric is maximized or minimized, or list the settings",
    )
    sub.add_argument(
        "name", nargs="?", help="metric name, e.g. val/loss (none: list the settings)"
    )
    sub.add_argument(
        "direction",
        nargs="?",
        type=_direction_word,
        metavar="DIRECTION",
        help="max (or maximize, maximise, higher) when larger is better, min (or "
        "minimize, minimise, lower) when smaller is better; none: show the direction",
    )
    sub.add_argument("--team", default="", help="only for this team")
    goal = sub.add_mutually_exclusive_group()
    goal.add_argument(
        "--goal",
        type=finite_number("--goal 0.9"),
        help="value that writes a threshold event when reached (default: keep "
        "the current goal)",
    )
    goal.add_argument(
        "--clear-goal", action="store_true", help="remove the metric's goal"
    )


def _add_read_commands(commands: Any) -> None:
    sub = _read_command(commands, "show", cmd_show, "show one experiment")
    sub.add_argument("id", help=ID_HELP)

    sub = _read_command(
        commands, "search", cmd_search, "search with the query language"
    )
    sub.add_argument("query", nargs="*", help='e.g. tag:nlp accuracy>0.9 "bert"')
    sub.formatter_class = argparse.RawDescriptionHelpFormatter
    sub.epilog = SEARCH_SYNTAX
    sub.add_argument(
        "--limit",
        type=whole_number("--limit 20", minimum=1),
        default=50,
        help="results to print (50)",
    )
    sub.add_argument(
        "--offset",
        type=whole_number("--offset 50", minimum=0),
        default=0,
        help="results to skip first",
    )

    sub = _read_command(commands, "compare", cmd_compare, "compare configs and metrics")
    sub.add_argument("ids", nargs="+", metavar="ID", help="two to ten ids")

    sub = _read_command(
        commands,
        "leaderboard",
        cmd_leaderboard,
        "rank experiments by a metric",
    )
    sub.add_argument("metric", help="metric name, e.g. accuracy or val/loss")
    sub.add_argument(
        "query", nargs="*", help="only experiments matching this search query"
    )
    sub.add_argument(
        "--limit",
        type=whole_number("--limit 5", minimum=1),
        default=10,
        help="entries to print (10)",
    )

    sub = _read_command(
        commands, "summary", cmd_summary, "totals, progress and best results"
    )
    sub.add_argument("--team", help="only this team")

    sub = _read_command(
        commands, "history", cmd_history, "metric points of an experiment"
    )
    sub.add_argument("id", help=ID_HELP)
    sub.add_argument("--metric", help="only this metric")

    sub = _read_command(
        commands, "config", cmd_config, "config versions and their diff"
    )
    sub.add_argument("id", help=ID_HELP)
    sub.add_argument(
        "--diff",
        nargs=2,
        type=whole_number("--diff 1 2"),
        metavar=("OLD", "NEW"),
        help="version numbers",
    )


def _add_admin_commands(commands: Any) -> None:
    sub = _command(commands, "db", cmd_db, "database maintenance")
    sub.add_argument("action", choices=["upgrade"], help="create or upgrade the schema")


# -- command handlers -----------------------------------------------------


def cmd_track(tracker: Tracker, args: argparse.Namespace) -> int:
    config = load_config_file(args.config) if args.config else None
    record = tracker.track(
        args.name,
        description=args.description,
        config=config,
        tags=args.tag,
        team=args.team,
        project=args.project,
        researcher=args.researcher,
        visibility="private" if args.private else "team",
        source="cli",
    )
    if args.json:
        return _print_json(record.to_dict())
    print(record.id)
    return 0


def cmd_log(tracker: Tracker, args: argparse.Namespace) -> int:
    metrics = parse_pairs(args.metrics)
    tracker.log_metrics(args.id, metrics, step=args.step, actor=me())
    return 0


def cmd_complete(tracker: Tracker, args: argparse.Namespace) -> int:
    record = tracker.complete(
        args.id, parse_pairs(args.metrics), artifacts=args.artifact, actor=me()
    )
    print(f"{record.short_id} completed")
    return 0


def cmd_fail(tracker: Tracker, args: argparse.Namespace) -> int:
    record = tracker.fail(args.id, args.reason, actor=me())
    print(f"{record.short_id} failed")
    return 0


def cmd_cancel(tracker: Tracker, args: argparse.Namespace) -> int:
    record = tracker.cancel(args.id, args.reason, actor=me())
    print(f"{record.short_id} cancelled")
    return 0


def cmd_share(tracker: Tracker, args: argparse.Namespace) -> int:
    record = tracker.share(args.id, args.users, actor=me())
    print(f"{record.short_id} shared with {', '.join(record.collaborators)}")
    return 0


def cmd_note(tracker: Tracker, args: argparse.Namespace) -> int:
    record = tracker.add_note(args.id, " ".join(args.text), author=me())
    print(f"{record.short_id} has {plural(len(record.notes), 'note')}")
    return 0


def cmd_tag(tracker: Tracker, args: argparse.Namespace) -> int:
    add, remove = parse_tag_changes(args.changes)
    record = tracker.tag(args.id, add=add, remove=remove, actor=me())
    print(f"{record.short_id} tags: {' '.join(record.tags) or '(none)'}")
    return 0


def _direction_word(text: str) -> str:
    """Parse a direction word for argparse, so a bad one exits 2 with the list."""
    try:
        return directions.parse_direction(text)
    except InvalidInput as exc:
        raise argparse.ArgumentTypeError(str(exc).rstrip(".")) from None


def cmd_metric(tracker: Tracker, args: argparse.Namespace) -> int:
    if args.name is None:
        if args.goal is not None or args.clear_goal:
            raise InvalidInput("Name the metric whose goal to change, e.g. `bleu`.")
        print(cli_format.metric_settings(tracker.metric_directions()))
        return 0
    if args.direction is None:
        if args.goal is not None or args.clear_goal:
            raise InvalidInput(
                f"Give the direction with the goal, e.g. `expbot metric {args.name} "
                "max --goal 0.9`."
            )
        direction = tracker.directions(args.team)(args.name)
        stored_goal = tracker.metric_goal(args.name, args.team)
        goal_text = "" if stored_goal is None else f", goal {stored_goal:g}"
        print(f"{args.name}: {direction}{goal_text}")
        return 0
    previous = tracker.metric_goal(args.name, args.team)
    tracker.set_metric_direction(
        args.name,
        args.direction,
        team=args.team,
        goal=args.goal,
        clear_goal=args.clear_goal,
        actor=me(),
    )
    change = directions.goal_change(previous, args.goal, args.clear_goal)
    print(f"{args.name}: {args.direction}{', ' + change if change else ''}")
    return 0


def cmd_show(tracker: Tracker, args: argparse.Namespace) -> int:
    record = tracker.get(args.id, viewer=me())
    if args.json:
        return _print_json(record.to_dict())
    print(cli_format.experiment(record))
    return 0


def cmd_search(tracker: Tracker, args: argparse.Namespace) -> int:
    query = " ".join(args.query)
    records = tracker.search(query, limit=args.limit, offset=args.offset, viewer=me())
    # A misspelt sort metric still lists results, newest first, so warn.
    sorted_by = [key.name for key in parse(query).sort if key.is_metric]
    hint = metric_names.unknown_metrics_hint(tracker, sorted_by, viewer=me())
    if hint:
        print(f"expbot: warning: {hint}", file=sys.stderr)
    if not records and args.offset:
        # "No experiments match" would be wrong when the offset skipped them all.
        total = tracker.count(query, viewer=me())
        if total:
            print(
                f"No results past --offset {args.offset}: "
                f"{plural(total, 'experiment')} {'matches' if total == 1 else 'match'} "
                "in all.",
                file=sys.stderr,
            )
            return _print_json([]) if args.json else 0
    if len(records) == args.limit:
        total = tracker.count(query, viewer=me())
        shown = args.offset + len(records)
        if total > shown:
            print(
                f"Showing {args.offset + 1}-{shown} of {total}; "
                "see more with --offset and --limit.",
                file=sys.stderr,
            )
    if args.json:
        return _print_json([record.to_dict() for record in records])
    print(cli_format.experiment_table(records))
    return 0


def cmd_compare(tracker: Tracker, args: argparse.Namespace) -> int:
    comparison = tracker.compare(args.ids, viewer=me())
    if args.json:
        return _print_json(comparison.to_dict())
    print(cli_format.comparison(comparison))
    return 0


def cmd_leaderboard(tracker: Tracker, args: argparse.Namespace) -> int:
    entries = tracker.leaderboard(
        args.metric, " ".join(args.query), limit=args.limit, viewer=me()
    )
    if not entries:
        hint = metric_names.unknown_metrics_hint(tracker, [args.metric], viewer=me())
        if hint:
            print(hint, file=sys.stderr)
    if args.json:
        return _print_json([entry.to_dict() for entry in entries])
    print(cli_format.leaderboard(args.metric, entries))
    return 0


def cmd_summary(tracker: Tracker, args: argparse.Namespace) -> int:
    summary = tracker.summary(team=args.team, viewer=me())
    if summary.total == 0:
        warn_unknown_team(tracker, args.team)
    if args.json:
        return _print_json(summary.to_dict())
    print(cli_format.summary(summary))
    return 0


def cmd_history(tracker: Tracker, args: argparse.Namespace) -> int:
    points = tracker.metric_history(args.id, args.metric, viewer=me())
    if not points and args.metric is not None:
        _raise_unlogged_metric(tracker, args.id, args.metric)
    if args.json:
        return _print_json(
            [
                {
                    "key": p.key,
                    "value": p.value,
                    "step": p.step,
                    "logged_at": p.logged_at.isoformat(),
                }
                for p in points
            ]
        )
    for point in points:
        step = "" if point.step is None else f" step {point.step}"
        print(f"{point.key}{step}: {point.value:g}  ({point.logged_at:%Y-%m-%d %H:%M})")
    return 0


def warn_unknown_team(tracker: Tracker, team: str | None) -> None:
    """Print a warning to stderr when no experiment records `team`.

    A misspelt `--team` otherwise gives empty figures and exit status 0.
    """
    if team is None:
        return
    teams = tracker.teams()
    if team in teams:
        return
    listed = ", ".join(teams[:TEAMS_LISTED])
    if len(teams) > TEAMS_LISTED:
        listed += ", ..."
    known = f" Teams with experiments: {listed}." if teams else ""
    print(
        f"expbot: warning: no experiment records team {team!r}, so its figures "
        f"are empty. Check the name.{known}",
        file=sys.stderr,
    )


def _raise_unlogged_metric(tracker: Tracker, identifier: str, metric: str) -> None:
    record = tracker.get(identifier, viewer=me())
    logged = ", ".join(f"`{name}`" for name in sorted(record.metrics))
    has = f"it has {logged}" if logged else "it has logged no metrics yet"
    raise InvalidInput(f"Experiment {record.short_id} has no metric `{metric}`; {has}.")


def cmd_config(tracker: Tracker, args: argparse.Namespace) -> int:
    if args.diff:
        difference = tracker.config_diff(args.id, *args.diff, viewer=me())
        if args.json:
            return _print_json(difference)
        print(cli_format.config_diff(difference))
        return 0
    versions = tracker.config_history(args.id, viewer=me())
    if args.json:
        return _print_json(
            [
                {
                    "version": v.version,
                    "author": v.author,
                    "created_at": v.created_at.isoformat(),
                    "config": v.config,
                }
                for v in versions
            ]
        )
    for version in versions:
        print(f"v{version.version} by {version.author} at {version.created_at:%F %R}")
        print(json.dumps(version.config, indent=2, sort_keys=True))
    return 0


def cmd_db(tracker: Tracker, args: argparse.Namespace) -> int:
    from tracker.db import current_revision

    # Opening the Tracker already created or upgraded the schema.
    print(f"database schema at revision {current_revision(tracker.db.engine)}")
    return 0


# -- argument parsing helpers ---------------------------------------------


def me() -> str:
    """Return the researcher the CLI acts as, under the same rules as Slack.

    Others' private experiments are hidden, and only an experiment's
    researcher and collaborators may change it.
    """
    return default_researcher()


def parse_pairs(pairs: Sequence[str]) -> dict[str, float]:
    """Parse `KEY=VALUE` words into metrics, naming the first bad one.

    A key given twice is an error, because a dict would keep only the last
    value and silently drop the earlier ones.
    """
    metrics: dict[str, float] = {}
    first_pair: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InvalidInput(
                f"Invalid metric {pair!r}: write KEY=VALUE, e.g. accuracy=0.91."
            )
        if key in first_pair:
            raise InvalidInput(
                f"Metric `{key}` is given twice ({first_pair[key]}, {pair}). "
                "Give each metric once per command."
            )
        first_pair[key] = pair
        try:
            number = float(value)
        except ValueError:
            raise InvalidInput(
                f"Metric `{key}` value {value!r} is not a number; "
                "log numbers only, e.g. accuracy=0.91."
            ) from None
        if math.isinf(number) and "inf" not in value.lower():
            # float() turns a literal like 1e400 into inf, which the
            # user did not type.
            raise InvalidInput(
                f"Metric `{key}` value {value!r} is too large for a 64-bit float "
                "(largest about 1.8e308)."
            )
        metrics[key] = number
    return metrics


def parse_tag_changes(changes: Sequence[str]) -> tuple[list[str], list[str]]:
    """Split `+a -b c` into tags to add (a, c) and to remove (b), as Slack does."""
    add, remove = [], []
    for change in changes:
        if change in ("+", "-"):
            raise InvalidInput(
                f"Invalid tag change {change!r}: write TAG or +TAG to add, or -TAG "
                "to remove."
            )
        if change.startswith("-"):
            remove.append(change[1:])
        else:
            add.append(change.removeprefix("+"))
    return add, remove


def _print_json(data: Any) -> int:
    json.dump(data, sys.stdout, indent=2, sort_keys=True, default=str)
    sys.stdout.write("\n")
    return 0


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Run a parsed command; tracker errors become one line on stderr."""
    try:
        needs_tracker = getattr(args, "needs_tracker", True)
        create = not getattr(args, "read_only", False)
        tracker = Tracker(args.database_url, create=create) if needs_tracker else None
        return int(args.handler(tracker, args))
    except ExpbotError as exc:
        print(f"{parser.prog}: {exc}", file=sys.stderr)
        return exc.exit_status
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader of stdout, such as `head`, has exited: stop quietly, and
        # point stdout at /dev/null so the flush at exit does not fail too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as exc:
        where = f" {exc.filename!r}" if exc.filename else ""
        print(f"{parser.prog}: cannot use{where}: {exc.strerror}", file=sys.stderr)
        return 1


def parse_args(
    parser: argparse.ArgumentParser, argv: Sequence[str] | None = None
) -> argparse.Namespace:
    """Parse argv, letting `expbot tag ID -old` pass `-old` as a tag change."""
    args, extra = parser.parse_known_args(argv)
    command = _command_parser(parser, args.command)
    if args.command == "metric" and args.direction is None:
        # Without a direction, `metric` only shows the settings.
        args.read_only = True
    if args.command == "tag":
        args.changes = [*args.changes, *extra]
        if not args.changes:
            command.error("give at least one TAG, +TAG or -TAG")
    elif args.command in ("fail", "cancel") and extra:
        reason = " ".join(extra)
        command.error(
            f"unrecognized arguments: {reason}. Give the reason with --reason, "
            f'e.g. `expbot {args.command} {args.id} --reason "{reason}"`'
        )
    elif extra:
        message = f"unrecognized arguments: {' '.join(extra)}"
        global_options = [word for word in extra if word in GLOBAL_OPTIONS]
        if global_options:
            message += (
                f". {global_options[0]} goes before the command, e.g. "
                f"`expbot {global_options[0]} ... {args.command} ...`"
            )
        command.error(message)
    return args


def _command_parser(
    parser: argparse.ArgumentParser, name: str
) -> argparse.ArgumentParser:
    """Return the subcommand's parser, so its errors point to its own --help."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            found: argparse.ArgumentParser = action.choices.get(name, parser)
            return found
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    return run(parse_args(parser, argv), parser)


if __name__ == "__main__":
    sys.exit(main())
