"""Every `expbot` subcommand has help text and a complete section in docs/cli.md.

The commands come from the real parser, so a new command or option fails
here until it is documented.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli import build_parser

DOCS = Path(__file__).resolve().parent.parent / "docs" / "cli.md"
HEADING = re.compile(r"^## expbot (.+)$", re.MULTILINE)


def walk(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[str, argparse.ArgumentParser, str | None]]:
    """Yield (command path, parser, summary in the parent's list) for each level."""
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        summaries = {choice.dest: choice.help for choice in action._choices_actions}
        for name, sub in action.choices.items():
            yield " ".join((*path, name)), sub, summaries.get(name)
            yield from walk(sub, (*path, name))


def arguments(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """Return the parser's options and positionals, without -h and subcommands."""
    return [
        action
        for action in parser._actions
        if not isinstance(action, argparse._HelpAction | argparse._SubParsersAction)
    ]


def doc_words(action: argparse.Action) -> list[str]:
    """Return the words that must appear in a command's section for `action`."""
    if action.option_strings:
        return [max(action.option_strings, key=len)]
    if action.choices:
        return [str(choice) for choice in action.choices]
    metavar = action.metavar if isinstance(action.metavar, str) else None
    return [metavar or action.dest.upper()]


def sections() -> dict[str, str]:
    """Map each `## expbot NAME` heading of docs/cli.md to its section text."""
    text = DOCS.read_text(encoding="utf-8")
    parts = re.split(r"^(?=## )", text, flags=re.MULTILINE)
    found = {}
    for part in parts:
        match = HEADING.match(part)
        if match:
            found[match.group(1).strip()] = part
    return found


PARSER = build_parser()
COMMANDS = {path: (sub, summary) for path, sub, summary in walk(PARSER)}
# A group such as `nemo` only dispatches to its subcommands; the commands
# that run something set a handler and each get their own section.
RUNNABLE = sorted(
    path for path, (sub, _) in COMMANDS.items() if sub.get_default("handler")
)


def test_parser_has_tracker_and_bot_commands() -> None:
    expected = {"track", "search", "serve", "shell", "outbox list", "nemo sync"}
    assert expected <= set(COMMANDS)


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_command_has_summary_line(path: str) -> None:
    _, summary = COMMANDS[path]
    assert summary and summary.strip(), f"`expbot {path}` has no help= summary"


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_command_has_description(path: str) -> None:
    sub, _ = COMMANDS[path]
    assert sub.description and sub.description.strip(), (
        f"`expbot {path} --help` shows no description"
    )


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_command_arguments_have_help(path: str) -> None:
    sub, _ = COMMANDS[path]
    for action in arguments(sub):
        assert action.help and action.help.strip(), (
            f"`expbot {path}` argument {doc_words(action)[0]} has no help text"
        )


@pytest.mark.parametrize("path", RUNNABLE)
def test_command_has_docs_section(path: str) -> None:
    assert path in sections(), f"docs/cli.md has no `## expbot {path}` section"


@pytest.mark.parametrize("path", RUNNABLE)
def test_docs_section_has_synopsis(path: str) -> None:
    section = sections().get(path, "")
    assert f"\nexpbot {path}" in section, f"no synopsis line `expbot {path} ...`"


@pytest.mark.parametrize("path", RUNNABLE)
def test_docs_section_has_example(path: str) -> None:
    # An example is a shell line that runs the command, maybe after the
    # global --database-url option or at the end of a pipe.
    example = rf"^\$ (.*\| )?expbot (--database-url \S+ )?{re.escape(path)}(?![\w-])"
    section = sections().get(path, "")
    assert re.search(example, section, re.MULTILINE), f"no example `$ expbot {path}`"


@pytest.mark.parametrize("path", RUNNABLE)
def test_docs_section_names_every_argument(path: str) -> None:
    sub, _ = COMMANDS[path]
    section = sections().get(path, "")
    for action in arguments(sub):
        for word in doc_words(action):
            pattern = rf"(?<![\w-]){re.escape(word)}(?![\w-])"
            assert re.search(pattern, section), f"`expbot {path}` section lacks {word}"


def test_docs_name_global_options() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for action in arguments(PARSER):
        option = max(action.option_strings, key=len)
        assert f"`{option}" in text, f"docs/cli.md does not describe {option}"


def test_docs_have_no_unknown_command() -> None:
    unknown = set(sections()) - set(RUNNABLE)
    assert not unknown, f"docs/cli.md documents commands that do not exist: {unknown}"


def test_docs_headings_are_unique() -> None:
    headings = HEADING.findall(DOCS.read_text(encoding="utf-8"))
    assert len(headings) == len(set(headings))
