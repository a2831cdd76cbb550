"""`expbot people`: list researchers and record the emails that link them to Slack.

    expbot people list [--json]
    expbot people add HANDLE --email ADDRESS [--name NAME] [--team TEAM] [--json]
    expbot people set-email HANDLE (ADDRESS | --clear) [--json]

The bot links a Slack user to the person whose email is their Slack email,
so an email gives its Slack user the handle and its private experiments.
Adding a person or changing an email is therefore for the researcher the
CLI acts as ($EXPBOT_RESEARCHER, else $USER) on their own handle, or for an
admin: a researcher linked to a Slack user listed in $EXPBOT_ADMINS.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from tracker import cli_format, people
from tracker.api import Tracker, default_researcher

HEADERS = ["HANDLE", "NAME", "TEAM", "EMAIL", "SLACK USER"]


def register(commands: Any) -> None:
    """Add `people` and its subcommands to the `expbot` parser."""
    parser = commands.add_parser(
        "people",
        help="list researchers and record the emails that link them to Slack",
        description="List the researchers expbot knows, and record the email "
        "that links each one to their Slack user.",
    )
    subcommands = parser.add_subparsers(dest="people_command", metavar="COMMAND")
    subcommands.required = True

    sub = _subcommand(
        subcommands,
        "list",
        cmd_list,
        "list people with their emails and Slack users",
        "List every person by handle, with display name, team, email and "
        "linked Slack user id.",
    )
    sub.set_defaults(read_only=True)
    _json_flag(sub)

    sub = _subcommand(
        subcommands,
        "add",
        cmd_add,
        "add a person whose email links them to Slack",
        "Add a person. The Slack user with this email becomes the person at "
        "their first /exp command. You may add only yourself unless you are "
        "an admin.",
    )
    sub.add_argument("handle", metavar="HANDLE", help="researcher handle, e.g. alice")
    sub.add_argument(
        "--email",
        required=True,
        metavar="ADDRESS",
        help="the email address of the person's Slack account",
    )
    sub.add_argument("--name", default="", help="display name, e.g. 'Alice Archer'")
    sub.add_argument("--team", default="", help="team name, e.g. nlp")
    _json_flag(sub)

    sub = _subcommand(
        subcommands,
        "set-email",
        cmd_set_email,
        "change or clear a person's email",
        "Change or clear the email of a person. You may change only your own "
        "unless you are an admin.",
    )
    sub.add_argument("handle", metavar="HANDLE", help="researcher handle, e.g. alice")
    address = sub.add_mutually_exclusive_group(required=True)
    address.add_argument(
        "address", nargs="?", metavar="ADDRESS", help="the new email address"
    )
    address.add_argument(
        "--clear", action="store_true", help="remove the email from the person"
    )
    _json_flag(sub)


def _subcommand(
    subcommands: Any, name: str, handler: Any, help: str, description: str
) -> Any:
    sub = subcommands.add_parser(name, help=help, description=description)
    sub.set_defaults(handler=handler)
    return sub


def _json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON only")


# -- command handlers -----------------------------------------------------


def cmd_list(tracker: Tracker, args: argparse.Namespace) -> int:
    persons = people.list_people(tracker)
    if args.json:
        return _print_json([person.to_dict() for person in persons])
    if not persons:
        print(
            "No people are recorded yet. Add yourself with "
            "`expbot people add HANDLE --email ADDRESS`."
        )
        return 0
    rows = [
        [
            person.handle,
            person.display_name or "-",
            person.team or "-",
            person.email or "-",
            person.slack_user_id or "-",
        ]
        for person in persons
    ]
    print(cli_format.table(HEADERS, rows))
    return 0


def cmd_add(tracker: Tracker, args: argparse.Namespace) -> int:
    actor = default_researcher()
    person = people.add_person(
        tracker,
        args.handle,
        email=args.email,
        display_name=args.name,
        team=args.team,
        actor=actor,
        as_admin=acts_as_admin(tracker, actor),
    )
    if args.json:
        return _print_json(person.to_dict())
    print(f"Added {person.handle} with email {person.email}. {_slack_effect(person)}")
    return 0


def cmd_set_email(tracker: Tracker, args: argparse.Namespace) -> int:
    actor = default_researcher()
    person = people.set_email(
        tracker,
        args.handle,
        None if args.clear else args.address,
        actor=actor,
        as_admin=acts_as_admin(tracker, actor),
    )
    if args.json:
        return _print_json(person.to_dict())
    if person.email is None:
        print(f"{person.handle} has no email now.")
        return 0
    print(f"{person.handle} has the email {person.email}. {_slack_effect(person)}")
    return 0


# -- helpers --------------------------------------------------------------


def acts_as_admin(tracker: Tracker, handle: str) -> bool:
    """Return whether `handle` is linked to a Slack user in $EXPBOT_ADMINS."""
    admin_ids = [
        part.strip()
        for part in os.environ.get("EXPBOT_ADMINS", "").split(",")
        if part.strip()
    ]
    return bool(admin_ids) and people.is_admin(tracker, handle, admin_ids)


def _slack_effect(person: people.PersonRecord) -> str:
    """Describe what the email changes in Slack for `person`."""
    if person.slack_user_id is not None:
        return f"It stays linked to Slack user {person.slack_user_id}."
    return (
        f"A Slack user with this email becomes {person.handle} at their first "
        f"/exp command; one that expbot already knows runs "
        f"`/exp link {person.handle}`."
    )


def _print_json(data: Any) -> int:
    json.dump(data, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
    return 0
