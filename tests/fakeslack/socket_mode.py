"""Slack's side of Socket Mode on a loopback websocket.

The flow that slack_sdk's built-in `SocketModeClient` (and so Bolt's
`SocketModeHandler`) expects:

1. The client calls apps.connections.open with the app-level token; the
   attached `FakeSlack` returns a `ws://127.0.0.1:PORT/link/?ticket=...` URL
   minted here. An unknown ticket is rejected with HTTP 403.
2. On connect the server sends `{"type": "hello", ...}`.
3. The server sends envelopes: `{"envelope_id", "type", "payload",
   "accepts_response_payload"}`, where type is `slash_commands`,
   `interactive` or `events_api`.
4. The client acks each with `{"envelope_id": ..., "payload": {...}?}`.
5. `{"type": "disconnect"}` makes the client fetch a new URL and reconnect.

The client pings every few seconds, and the websockets server replies with
pongs by itself.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve

from tests.fakeslack.server import FakeSlack
from tests.fakeslack.workspace import APP_ID

logger = logging.getLogger(__name__)

# Envelope types in which Slack lets the ack carry a response payload.
_ACCEPTS_RESPONSE_PAYLOAD = {"slash_commands": True, "events_api": False}


@dataclass(frozen=True)
class Ack:
    """The client's acknowledgement of one envelope."""

    envelope_id: str
    payload: dict[str, Any] | None
    time: float


class SocketModeFake:
    """A websocket server that delivers envelopes and records acks."""

    def __init__(self, fake: FakeSlack | None = None, *, ping_interval: float = 0.2):
        """Serve Socket Mode for `fake`, which then hands out this server's URLs.

        The built-in client holds a lock while it blocks in `recv` for up to
        3 seconds, and its `close()` waits for that lock. Frequent server
        pings wake the `recv`, so closing a handler in a test takes about
        `ping_interval` seconds instead of 3.
        """
        self._fake = fake
        self._ping_interval = ping_interval
        self._tickets: set[str] = set()
        self._connections: list[ServerConnection] = []
        self._acks: dict[str, Ack] = {}
        self._other_messages: list[dict[str, Any]] = []
        self._changed = threading.Condition()
        self.connections_opened = 0
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> SocketModeFake:
        self._server = serve(
            self._serve_connection,
            "127.0.0.1",
            0,
            process_request=self._check_ticket,
            compression=None,
            ping_interval=self._ping_interval,
            close_timeout=1,
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fake-socket-mode", daemon=True
        )
        self._thread.start()
        if self._fake is not None:
            self._fake.socket_mode_url = self.mint_url
        return self

    def stop(self) -> None:
        if self._fake is not None:
            self._fake.socket_mode_url = None
        with self._changed:
            connections = list(self._connections)
        for connection in connections:
            connection.close()
        if self._server is not None:
            self._server.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> SocketModeFake:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def mint_url(self) -> str:
        """Return a one-connection URL, as apps.connections.open does."""
        if self._server is None:
            raise RuntimeError("SocketModeFake is not started. Call start() first.")
        host, port = self._server.socket.getsockname()[:2]
        ticket = uuid.uuid4().hex
        with self._changed:
            self._tickets.add(ticket)
        return f"ws://{host}:{port}/link/?ticket={ticket}&app_id={APP_ID}"

    # -- delivering and waiting ---------------------------------------------

    def send_envelope(
        self,
        envelope_type: str,
        payload: dict[str, Any],
        *,
        envelope_id: str | None = None,
        accepts_response_payload: bool | None = None,
        retry_attempt: int | None = None,
        retry_reason: str | None = None,
        timeout: float = 5.0,
    ) -> str:
        """Send one envelope on the newest connection and return its id.

        Waits up to `timeout` seconds for a client to connect first.
        """
        connection = self.wait_for_connection(timeout=timeout)
        envelope_id = envelope_id or str(uuid.uuid4())
        if accepts_response_payload is None:
            accepts_response_payload = _accepts_response_payload(envelope_type, payload)
        envelope: dict[str, Any] = {
            "envelope_id": envelope_id,
            "type": envelope_type,
            "payload": payload,
            "accepts_response_payload": accepts_response_payload,
        }
        if envelope_type == "events_api":
            envelope["retry_attempt"] = retry_attempt or 0
            envelope["retry_reason"] = retry_reason or ""

        connection.send(json.dumps(envelope))
        logger.debug("fake socket mode sent %s envelope %s", envelope_type, envelope_id)
        return envelope_id

    def send_disconnect(
        self, reason: str = "refresh_requested", timeout: float = 5.0
    ) -> None:
        """Ask the client to reconnect, as Slack does every few hours."""
        connection = self.wait_for_connection(timeout=timeout)
        message = {
            "type": "disconnect",
            "reason": reason,
            "debug_info": {"host": "fake"},
        }
        connection.send(json.dumps(message))

    def wait_for_connection(
        self, count: int = 1, *, timeout: float = 5.0
    ) -> ServerConnection:
        """Wait for `count` connections in all and a live one, and return the newest."""
        with self._changed:
            ready = self._changed.wait_for(
                lambda: self.connections_opened >= count and bool(self._connections),
                timeout=timeout,
            )
            if not ready:
                raise TimeoutError(
                    f"expected {count} Socket Mode connection(s) within {timeout} s, "
                    f"got {self.connections_opened}"
                )
            return self._connections[-1]

    def wait_for_ack(self, envelope_id: str, timeout: float = 5.0) -> Ack:
        with self._changed:
            if not self._changed.wait_for(
                lambda: envelope_id in self._acks, timeout=timeout
            ):
                raise TimeoutError(
                    f"no ack for envelope {envelope_id} within {timeout} s"
                )
            return self._acks[envelope_id]

    def acks(self) -> list[Ack]:
        with self._changed:
            return list(self._acks.values())

    # -- server side -----------------------------------------------------------

    def _check_ticket(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
        ticket = parse_qs(urlsplit(request.path).query).get("ticket", [""])[0]
        with self._changed:
            if ticket in self._tickets:
                self._tickets.discard(ticket)
                return None
        return connection.respond(HTTPStatus.FORBIDDEN, "unknown or used ticket\n")

    def _serve_connection(self, connection: ServerConnection) -> None:
        hello = {
            "type": "hello",
            "num_connections": 1,
            "debug_info": {"host": "fake", "approximate_connection_time": 3600},
            "connection_info": {"app_id": APP_ID},
        }
        connection.send(json.dumps(hello))
        with self._changed:
            self._connections.append(connection)
            self.connections_opened += 1
            self._changed.notify_all()
        try:
            for raw in connection:
                self._receive(raw)
        except ConnectionClosed:
            pass
        finally:
            with self._changed:
                self._connections.remove(connection)
                self._changed.notify_all()

    def _receive(self, raw: str | bytes) -> None:
        try:
            message = json.loads(raw)
        except json.JSONDecodeError:
            logger.warning("fake socket mode got a non-JSON message: %r", raw[:200])
            return
        with self._changed:
            if isinstance(message, dict) and "envelope_id" in message:
                envelope_id = str(message["envelope_id"])
                self._acks[envelope_id] = Ack(
                    envelope_id, message.get("payload"), time.time()
                )
            else:
                self._other_messages.append(message)
            self._changed.notify_all()


def _accepts_response_payload(envelope_type: str, payload: dict[str, Any]) -> bool:
    if envelope_type == "interactive":
        # A modal submission or an options request may carry a response in the
        # ack, but a button click may not.
        return payload.get("type") in ("view_submission", "block_suggestion")
    return _ACCEPTS_RESPONSE_PAYLOAD.get(envelope_type, False)
