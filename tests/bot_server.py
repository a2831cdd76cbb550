"""Run the real `expbot serve` in a subprocess and talk to it as Slack does.

`BotProcess` starts `python -m bot.cli serve ...` with its own environment
and keeps its log. `SlackSender` sends really signed slash commands and
button clicks to it and times each ack. It then waits on the fake Slack
for the replies posted to the response_url. `ACK_TIMES` collects every ack time of
the session for the terminal summary that conftest prints.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.fakeslack import RESPONSE_URL, FakeSlack
from tests.fakeslack.payloads import block_action_body, slash_command_body
from tests.fakeslack.signing import HttpReply, post_signed

REPO = Path(__file__).resolve().parent.parent
# (seconds, what was acknowledged) for every ack measured in this session.
ACK_TIMES: list[tuple[float, str]] = []


def free_port() -> int:
    """Return a loopback port that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def record_ack(seconds: float, what: str) -> None:
    ACK_TIMES.append((seconds, what))


def bot_environment(fake: FakeSlack, home: Path, **extra: str) -> dict[str, str]:
    """Return an environment for the bot against `fake`, with no other Slack."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLACK_", "EXPBOT_"))
    }
    env.update(
        SLACK_BOT_TOKEN=fake.bot_token,
        SLACK_SIGNING_SECRET=fake.signing_secret,
        SLACK_API_URL=fake.api_url,
        EXPBOT_HOME=str(home),
        EXPBOT_LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


class BotProcess:
    """`expbot` in a subprocess, with every line of its log kept."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.args = args
        self.env = env
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._process: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None

    def start(self, ready: str, timeout: float = 30.0) -> BotProcess:
        """Start the process and wait for a log line containing `ready`."""
        self._process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", *self.args],
            cwd=REPO,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.wait_for_log(re.escape(ready), timeout=timeout)
        return self

    def _read(self) -> None:
        assert self._process is not None and self._process.stderr is not None
        for line in self._process.stderr:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_for_log(self, pattern: str, timeout: float = 10.0, count: int = 1) -> str:
        """Wait for `count` log lines matching the regex `pattern`; return the last."""
        compiled = re.compile(pattern)

        def found() -> str | None:
            matches = [line for line in self.lines if compiled.search(line)]
            return matches[count - 1] if len(matches) >= count else None

        def exited() -> bool:
            return self._process is not None and self._process.poll() is not None

        with self._changed:
            self._changed.wait_for(lambda: found() or exited(), timeout=timeout)
            line = found()
        if line is None:
            raise TimeoutError(
                f"no log line matching {pattern!r} within {timeout} s; log:\n"
                + self.log_text()[-4000:]
            )
        return line

    def log_text(self) -> str:
        with self._changed:
            return "\n".join(self.lines)

    def stop(self, timeout: float = 15.0) -> int:
        """Send SIGTERM and wait; return the exit status."""
        assert self._process is not None
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
        try:
            status = self._process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._process.kill()
            status = self._process.wait()
        if self._reader is not None:
            self._reader.join(timeout=5)
        if self._process.stderr is not None:
            self._process.stderr.close()
        return status


@contextmanager
def serve_http(fake: FakeSlack, home: Path, **extra_env: str) -> Iterator[SlackSender]:
    """Run `expbot serve --http` on a free loopback port against `fake`.

    Yields a sender for its events URL. On exit the server is stopped, and it
    must exit with status 0, because a crash on shutdown is a bug too.
    """
    port = free_port()
    env = bot_environment(fake, home, **extra_env)
    args = ["serve", "--http", "--host", "127.0.0.1", "--port", str(port)]
    process = BotProcess(args, env).start(ready="listening on")
    try:
        yield SlackSender(fake, f"http://127.0.0.1:{port}/slack/events", process)
    finally:
        status = process.stop()
    assert status == 0, process.log_text()[-3000:]


@dataclass
class Exchange:
    """One request sent to the bot: its ack and where its replies go."""

    ack: HttpReply
    seconds: float
    response_url: str


class SlackSender:
    """Sends signed requests to the bot as Slack would, and reads replies."""

    def __init__(
        self, fake: FakeSlack, events_url: str, process: BotProcess | None = None
    ) -> None:
        self.fake = fake
        self.events_url = events_url
        # The server behind `events_url`, when the sender started it.
        self.process = process

    def url(self, path: str) -> str:
        """Return the URL of `path` on the server behind the events URL."""
        return self.events_url.removesuffix("/slack/events") + path

    def command(
        self,
        text: str,
        *,
        user_id: str = "U0ALICE",
        channel_id: str = "C0MLTEAM",
        trigger_id: str | None = None,
        retry_num: int | None = None,
    ) -> Exchange:
        response_url = self.fake.mint_response_url(channel_id, user_id)
        body = slash_command_body(
            text=text,
            response_url=response_url,
            user_id=user_id,
            user_name=user_id.removeprefix("U0").lower(),
            channel_id=channel_id,
            trigger_id=trigger_id,
        )
        return self._post(body, response_url, f"/exp {text}", retry_num=retry_num)

    def click(
        self,
        action_id: str,
        value: str,
        *,
        user_id: str = "U0ALICE",
        channel_id: str = "C0MLTEAM",
        response_url: str | None = None,
        message_ts: str | None = None,
    ) -> Exchange:
        """Click a button; `response_url` overrides the freshly minted one.

        `message_ts` names the message that contains the button; by default
        each click is on a message of its own.
        """
        if response_url is None:
            response_url = self.fake.mint_response_url(channel_id, user_id)
        body = block_action_body(
            action_id=action_id,
            value=value,
            user_id=user_id,
            channel_id=channel_id,
            response_url=response_url,
            message_ts=message_ts,
        )
        return self._post(body, response_url, f"click {action_id}")

    def _post(
        self, body: str, response_url: str, what: str, retry_num: int | None = None
    ) -> Exchange:
        started = time.perf_counter()
        ack = post_signed(
            self.events_url, body, self.fake.signing_secret, retry_num=retry_num
        )
        seconds = time.perf_counter() - started
        record_ack(seconds, what)
        return Exchange(ack, seconds, response_url)

    def replies(
        self, exchange: Exchange, count: int = 1, timeout: float = 10.0
    ) -> list[dict[str, Any]]:
        """Wait for `count` posts to the exchange's response_url; return them all."""
        path = "/response/" + exchange.response_url.rstrip("/").rsplit("/", 1)[-1]

        def arrived(calls: list[Any]) -> bool:
            posts = [c for c in calls if c.method == RESPONSE_URL and c.path == path]
            return len(posts) >= count

        self.fake.log.wait_until(arrived, timeout=timeout)
        return self.fake.responses(exchange.response_url)

    def reply(self, exchange: Exchange, timeout: float = 10.0) -> dict[str, Any]:
        return self.replies(exchange, 1, timeout)[0]

    def run(self, text: str, **options: Any) -> str:
        """Send `/exp text`, check the ack, and return the reply's text."""
        exchange = self.command(text, **options)
        assert exchange.ack.status == 200
        return reply_text(self.reply(exchange))


def reply_text(reply: dict[str, Any]) -> str:
    """Return a reply's text and every text in its blocks, for assertions."""
    parts = [str(reply.get("text", ""))]
    parts.extend(_texts(reply.get("blocks") or []))
    return "\n".join(parts)


def _texts(value: Any) -> list[str]:
    if isinstance(value, dict):
        found = [str(value["text"])] if isinstance(value.get("text"), str) else []
        for key, item in value.items():
            if key != "text" or not isinstance(item, str):
                found.extend(_texts(item))
        return found
    if isinstance(value, list):
        return [text for item in value for text in _texts(item)]
    return []
