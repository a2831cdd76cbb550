"""The installed `expbot` command, run as a subprocess like a user would."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXPBOT = shutil.which("expbot", path=str(Path(sys.executable).parent))


@pytest.fixture
def cli(tmp_path):
    if EXPBOT is None:
        pytest.fail("the expbot command is not installed next to this Python")
    base_env = {
        **os.environ,
        "EXPBOT_HOME": str(tmp_path / "home"),
        "EXPBOT_RESEARCHER": "alice",
        "EXPBOT_TEAM": "nlp",
    }
    base_env.pop("EXPBOT_DATABASE_URL", None)
    # The editable install points at one checkout; put this test's checkout
    # first, so a git worktree tests its own code.
    base_env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(Path(__file__).parents[1]), os.environ.get("PYTHONPATH")])
    )

    def run(
        *args: str, status: int = 0, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [EXPBOT, *args],
            capture_output=True,
            text=True,
            env={**base_env, **(env or {})},
            timeout=60,
        )
        assert result.returncode == status, result.stderr
        return result

    run.env = base_env
    return run


def as_json(result: subprocess.CompletedProcess[str]):
    return json.loads(result.stdout)


def test_full_lifecycle_json(cli, tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("lr: 0.001\nmodel:\n  name: bert\n")

    created = as_json(
        cli("track", "bert-base", "--config", str(config), "--tag", "nlp", "--json")
    )
    first = created["id"]
    cli("log", first[:8], "accuracy=0.91", "val/loss=0.3", "--step", "1")
    cli("complete", first, "accuracy=0.93")
    second = cli("track", "bert-large").stdout.strip()
    cli("fail", second, "--reason", "CUDA out of memory")
    cli("share", first, "bob")
    cli("note", first, "best so far")

    shown = as_json(cli("show", first, "--json"))
    found = as_json(cli("search", "tag:nlp", "accuracy>0.9", "--json"))
    summary = as_json(cli("summary", "--json"))
    compared = as_json(cli("compare", first, second, "--json"))

    assert created["status"] == "running"
    assert created["config"] == {"lr": 0.001, "model": {"name": "bert"}}
    assert shown["status"] == "completed"
    assert shown["metrics"] == {"accuracy": 0.93, "val/loss": 0.3}
    assert shown["collaborators"] == ["bob"]
    assert [n["text"] for n in shown["notes"]] == ["best so far"]
    assert [e["id"] for e in found] == [first]
    assert summary["total"] == 2
    assert summary["completed"] == 1
    assert summary["failed"] == 1
    assert summary["completion_rate"] == 0.5
    assert set(compared["config_differences"]) == {"lr", "model.name"}


def test_errors_are_one_line(cli):
    cli("db", "upgrade")
    missing = cli("show", "3f2a9c00", status=1)
    usage = cli("frobnicate", status=2)
    bad_metric = cli("log", "3f2a9c00", "accuracy", status=1)

    for result in (missing, usage, bad_metric):
        assert result.stdout == ""
        assert len(result.stderr.strip().splitlines()) == 1
        assert "Traceback" not in result.stderr
    assert "3f2a9c00" in missing.stderr
    assert "'accuracy'" in bad_metric.stderr


def test_bad_query_exit_status(cli):
    cli("db", "upgrade")
    result = cli("search", "(tag:nlp", "--json", status=1)

    assert "position" in result.stderr
    assert result.stdout == ""


def test_tag_accepts_minus_words(cli):
    identifier = cli("track", "run", "--tag", "old").stdout.strip()

    cli("tag", identifier, "+new", "-old")

    assert as_json(cli("show", identifier, "--json"))["tags"] == ["new"]


def test_every_command_has_help(cli):
    from bot.cli import build_parser

    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # noqa: SLF001

    for name, sub in commands.items():
        assert sub.description, f"`expbot {name}` has no help text"


def test_cli_acts_as_researcher(cli, tmp_path):
    secret = cli("track", "secret", "--private").stdout.strip()
    public = cli("track", "public").stdout.strip()
    env_as = {"EXPBOT_RESEARCHER": "mallory"}

    found = as_json(cli("search", "--json", env=env_as))
    refused = cli("note", public, "mine now", env=env_as, status=1)
    hidden = cli("show", secret, env=env_as, status=1)

    assert [e["id"] for e in found] == [public]
    assert "Only alice" in refused.stderr
    assert secret[:8] in hidden.stderr


def test_search_says_when_results_are_cut(cli):
    for index in range(3):
        cli("track", f"run{index}")

    result = cli("search", "--limit", "2")
    bad_limit = cli("search", "--limit", "0", status=2)

    assert "Showing 1-2 of 3" in result.stderr
    assert "'0' is not 1 or more" in bad_limit.stderr


def test_closed_pipe_is_quiet(cli):
    for index in range(3):
        cli("track", f"run{index}")
    reader, writer = os.pipe()
    os.close(reader)

    result = subprocess.run(
        [EXPBOT, "search", "--json"],
        stdout=writer,
        stderr=subprocess.PIPE,
        text=True,
        env=cli.env,
        timeout=60,
    )
    os.close(writer)

    assert "Traceback" not in result.stderr
    assert result.returncode == 141


def test_cli_metric_says_goal_kept(cli):
    cli("metric", "accuracy", "max", "--goal", "0.95")

    kept = cli("metric", "accuracy", "max").stdout
    cleared = cli("metric", "accuracy", "max", "--clear-goal").stdout
    both = cli("metric", "accuracy", "max", "--goal", "1", "--clear-goal", status=2)

    assert kept == "accuracy: max, goal 0.95 kept\n"
    assert cleared == "accuracy: max, goal 0.95 cleared\n"
    assert "not allowed with argument --goal" in both.stderr


def test_tag_bare_word_adds(cli):
    identifier = cli("track", "run", "--tag", "old").stdout.strip()

    result = cli("tag", identifier, "nlp", "-old")

    assert result.stdout.strip().endswith("tags: nlp")
    assert as_json(cli("show", identifier, "--json"))["tags"] == ["nlp"]
