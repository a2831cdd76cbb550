"""`/exp search` end to end: `expbot serve --http` against a fake Slack.

The server runs as a subprocess on loopback with the benchmark's database.
Signed slash commands go to its `/slack/events`; the ack time is the HTTP
round trip, and the answer time runs from sending the command until the
reply reaches the fake Slack's response_url. Peak RSS is the process's
high-water mark (`VmHWM` in /proc), read just before it is stopped.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from bench.timing import Stats, summarize

logger = logging.getLogger(__name__)

STARTUP_TIMEOUT_SECONDS = 60.0
ANSWER_TIMEOUT_SECONDS = 30.0
# How often the response_url is checked for the reply. The answer time is
# accurate to about this interval.
POLL_SECONDS = 0.001


@dataclass
class SlashFigures:
    ack: Stats
    answer: Stats
    peak_rss_mb: float
    errors: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "ack": self.ack.as_dict(),
            "answer": self.answer.as_dict(),
            "peak_rss_mb": self.peak_rss_mb,
            "errors": self.errors,
        }


def measure_slash_search(
    database_url: str, home: Path, queries: list[str], requests: int, warmup: int
) -> SlashFigures | str:
    """Send `requests` timed `/exp search` commands after `warmup` untimed ones,
    cycling through `queries`.

    Returns "n/a (...)" when the fake Slack or `expbot serve` is missing.
    """
    try:
        from tests.fakeslack import FakeSlack
        from tests.fakeslack.payloads import slash_command_body
        from tests.fakeslack.signing import post_signed
    except ImportError as exc:
        return f"n/a (fake Slack not importable: {exc})"
    command = _serve_command()
    if command is None:
        return "n/a (`expbot serve` is not available yet)"

    with FakeSlack(rate_limit=None) as fake, open(home / "serve.log", "wb") as log:
        port = _free_port()
        server = _start_server(command, database_url, home, fake, port, log)
        try:
            _wait_until_healthy(server, port)
            url = f"http://127.0.0.1:{port}/slack/events"
            acks, answers, errors = [], [], 0
            # Untimed warm-up: the first commands pay for imports and auth.test.
            for index in range(-warmup, requests):
                text = "search " + queries[index % len(queries)]
                response_url = fake.mint_response_url("C0MLTEAM", "U0ALICE")
                body = slash_command_body(text=text, response_url=response_url)
                started = time.perf_counter()
                reply = post_signed(url, body, fake.signing_secret)
                acked = time.perf_counter()
                answered = _wait_for_answer(fake, response_url)
                if reply.status != 200 or answered is None:
                    errors += 1
                    logger.warning("slash command %r got HTTP %s", text, reply.status)
                    continue
                if index >= 0:
                    acks.append((acked - started) * 1000)
                    answers.append((answered - started) * 1000)
            peak_rss_mb = _peak_rss_mb(server.pid)
        finally:
            _stop(server)
    if not acks:
        return f"n/a (all {requests} slash commands failed)"
    return SlashFigures(summarize(acks), summarize(answers), peak_rss_mb, errors)


def _serve_command() -> list[str] | None:
    """Return the command that runs `expbot serve`, or None if none does.

    The `expbot` script comes first; `python -m bot.cli` is the same entry
    point when the installed script predates the bot.
    """
    for command in ([_expbot_executable()], [sys.executable, "-m", "bot.cli"]):
        result = subprocess.run(
            [*command, "serve", "--help"],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode == 0:
            return command
    return None


def _expbot_executable() -> str:
    beside_python = Path(sys.executable).with_name("expbot")
    if beside_python.exists():
        return str(beside_python)
    return shutil.which("expbot") or "expbot"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start_server(
    command: list[str],
    database_url: str,
    home: Path,
    fake: Any,
    port: int,
    log: IO[bytes],
) -> subprocess.Popen[bytes]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLACK_", "EXPBOT_"))
    }
    env.update(
        EXPBOT_HOME=str(home),
        EXPBOT_DATABASE_URL=database_url,
        SLACK_BOT_TOKEN=fake.bot_token,
        SLACK_SIGNING_SECRET=fake.signing_secret,
        SLACK_API_URL=fake.api_url,
    )
    arguments = ["serve", "--http", "--host", "127.0.0.1", "--port", str(port)]
    return subprocess.Popen(
        [*command, *arguments], env=env, stdout=log, stderr=subprocess.STDOUT
    )


def _wait_until_healthy(server: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"expbot serve exited with status {server.returncode}")
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{port}/healthz", timeout=1
            ) as reply:
                if reply.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError):
            pass
        time.sleep(0.1)
    raise TimeoutError(
        f"expbot serve did not respond to /healthz within {STARTUP_TIMEOUT_SECONDS} s"
    )


def _wait_for_answer(fake: Any, response_url: str) -> float | None:
    deadline = time.monotonic() + ANSWER_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if fake.responses(response_url):
            return time.perf_counter()
        time.sleep(POLL_SECONDS)
    return None


def _peak_rss_mb(pid: int) -> float:
    """Return the peak RSS of a process and its children, in MiB."""
    import psutil

    total_kib = 0
    process = psutil.Process(pid)
    for member in [process, *process.children(recursive=True)]:
        status = Path(f"/proc/{member.pid}/status").read_text()
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                total_kib += int(line.split()[1])
    return total_kib / 1024


def _stop(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
