"""Examples that users copy from README.md and docs/cli.md run as written."""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot import demo
from tracker import Tracker

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


@pytest.fixture
def shell_env(tmp_path) -> dict[str, str]:
    """Return a user's environment: a fresh home, and this checkout's code."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("EXPBOT_", "SLACK_"))
    }
    env["PATH"] = os.pathsep.join([str(BIN), env.get("PATH", "")])
    env["PYTHONPATH"] = str(ROOT)
    env["EXPBOT_HOME"] = str(tmp_path / "home")
    env["EXPBOT_RESEARCHER"] = "alice"
    return env


def fenced_blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", text, re.MULTILINE | re.DOTALL)


def section(text: str, heading: str) -> str:
    start = text.index(f"\n{heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else None]


def test_readme_first_cli_example_runs(tmp_path, shell_env):
    tracking = section((ROOT / "README.md").read_text(), "## Tracking experiments")
    script = fenced_blocks(tracking, "sh")[0]
    work = tmp_path / "work"
    work.mkdir()

    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=work,
        env=shell_env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "bert-base" in result.stdout
    assert '"completed": 1' in result.stdout


def test_readme_names_author_keyword():
    readme = (ROOT / "README.md").read_text()
    takes_author = [
        name
        for name, method in inspect.getmembers(Tracker, inspect.isfunction)
        if not name.startswith("_") and "author" in inspect.signature(method).parameters
    ]

    assert takes_author == ["add_note"]
    assert "`author=` for\n`add_note`" in readme


def console_commands(block: str) -> list[tuple[str, str]]:
    """Split a console block into (command, expected output) pairs."""
    pairs: list[tuple[str, str]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            pairs.append((line[2:], ""))
        else:
            command, output = pairs[-1]
            pairs[-1] = (command, output + line + "\n")
    return pairs


def test_people_examples_run_in_order(shell_env):
    docs = (ROOT / "docs" / "cli.md").read_text()
    commands = [
        pair
        for heading in ("## expbot people add", "## expbot people set-email")
        for pair in console_commands(
            fenced_blocks(section(docs, heading), "console")[0]
        )
    ]

    assert len(commands) == 6
    for command, expected in commands:
        result = subprocess.run(
            ["bash", "-c", command],
            env=shell_env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.stdout + result.stderr == expected, command


@pytest.mark.parametrize("page", ["slack.md", "reports.md"])
def test_slash_examples_name_demo_teams(page):
    text = (ROOT / "docs" / page).read_text()
    named = set(re.findall(r"^/exp .*?\bteam:([\w.+/-]+)", text, re.MULTILINE))

    assert named
    assert named <= set(demo.RESEARCHERS.values())
