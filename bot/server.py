"""`expbot serve`: the bot over Socket Mode or HTTP, plus its services.

HTTP mode serves `POST /slack/events` and `GET /healthz` with waitress, a
production WSGI server. Socket Mode connects out to Slack with the app
token, so it needs no public URL. Either way SIGTERM or SIGINT stops the
listeners, waits for commands in flight and stops the services.
"""

from __future__ import annotations

import io
import json
import logging
import signal
import threading
from collections.abc import Callable, Iterable
from types import FrameType
from typing import TYPE_CHECKING, Any

from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy import text

from bot.app import create_app, create_workers
from bot.request_checks import MAX_BODY_BYTES, Rejection, RequestCheck
from bot.services import start_services
from bot.settings import SettingsError
from tracker import Tracker
from tracker.errors import ExpbotError

if TYPE_CHECKING:
    from slack_bolt import App

    from bot.settings import Settings

logger = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
HTTP_THREADS = 8
SOCKET_CLOSE_SECONDS = 10.0
StartResponse = Callable[..., Any]


class ShutdownRequested(SystemExit):
    """Raised by the signal handler; waitress stops its loop on SystemExit."""


def serve(
    settings: Settings,
    *,
    mode: str | None = None,
    host: str | None = None,
    port: int | None = None,
) -> int:
    """Run the bot until SIGTERM or SIGINT; return the exit status.

    `mode` is "socket", "http" or None for Socket Mode when an app token
    is set and HTTP otherwise.
    """
    socket_mode = mode == "socket" or (mode is None and settings.socket_mode_available)
    settings.require_slack(socket_mode=socket_mode)
    tracker = Tracker(settings.tracker_database_url)
    workers = create_workers()
    app = create_app(settings, tracker, workers=workers)
    try:
        check_bot_token(app.client, settings)
        services = start_services(app, settings, tracker)
        try:
            if socket_mode:
                run_socket_mode(app, settings)
            else:
                run_http(
                    HttpApp(app, tracker, settings.signing_secret or ""),
                    host or settings.host,
                    port or settings.port,
                )
        finally:
            services.stop()
    finally:
        # Commands already acknowledged still get their reply.
        workers.shutdown(wait=True)
        tracker.close()
        logger.info("expbot stopped")
    return 0


def check_bot_token(client: WebClient, settings: Settings) -> None:
    """Call auth.test so a bad token fails at start, not on a user's command."""
    try:
        identity = client.auth_test()
    except SlackApiError as exc:
        error = exc.response.get("error", "unknown_error")
        raise SettingsError(
            f"Slack rejected SLACK_BOT_TOKEN ({error}): copy the Bot User OAuth "
            "Token again from your Slack app's OAuth & Permissions page, and "
            "reinstall the app if it was revoked."
        ) from exc
    except (SlackClientError, OSError) as exc:
        url = settings.api_url or client.base_url
        raise SettingsError(
            f"Could not reach the Slack Web API at {url} ({exc}). Check the "
            "network, or SLACK_API_URL if it is set."
        ) from exc
    logger.info(
        "connected to Slack workspace %s as %s",
        identity.get("team"),
        identity.get("user"),
    )


def run_http(wsgi: HttpApp, host: str, port: int) -> None:
    from waitress.server import create_server

    server = create_server(
        wsgi,
        host=host,
        port=port,
        threads=HTTP_THREADS,
        ident="expbot",
    )
    # Tests start the server on port 0 and read the port from this line.
    logger.info("listening on http://%s:%s%s", host, server.effective_port, EVENTS_PATH)  # type: ignore[union-attr]
    previous = _install_signal_handlers(_raise_shutdown)
    try:
        server.run()
    finally:
        server.close()
        _restore_signal_handlers(previous)


def run_socket_mode(app: App, settings: Settings) -> None:
    stopped = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        logger.info("received %s; shutting down", signal.Signals(signum).name)
        stopped.set()

    previous = _install_signal_handlers(request_stop)
    handler = SocketModeHandler(app, app_token=settings.app_token)
    try:
        handler.connect()
        logger.info("connected in Socket Mode")
        stopped.wait()
    finally:
        _close_socket_mode(handler)
        _restore_signal_handlers(previous)


def _close_socket_mode(handler: SocketModeHandler) -> None:
    """Close the websocket, waiting at most SOCKET_CLOSE_SECONDS.

    slack_sdk's built-in client (3.48) joins its receiving thread on close,
    and that join can block while the thread waits in a socket read. The
    thread is a daemon, so the process may exit without it.
    """
    closer = threading.Thread(target=handler.close, name="socket-close", daemon=True)
    closer.start()
    closer.join(SOCKET_CLOSE_SECONDS)
    if closer.is_alive():
        logger.warning(
            "Socket Mode connection did not close within %s s; exiting anyway",
            SOCKET_CLOSE_SECONDS,
        )


class HttpApp:
    """The WSGI app: Slack's requests go to Bolt, and health checks are served here.

    A request to the events path reaches Bolt only with a valid signature
    and a body that Bolt can parse.
    """

    def __init__(self, app: App, tracker: Tracker, signing_secret: str) -> None:
        self.slack = SlackRequestHandler(app, path=EVENTS_PATH)
        self.tracker = tracker
        self.check = RequestCheck(signing_secret)

    def __call__(
        self, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path == EVENTS_PATH:
            if method != "POST":
                return _json(start_response, "405 Method Not Allowed", {"ok": False})
            return self.events(environ, start_response)
        if path == HEALTH_PATH and method in ("GET", "HEAD"):
            return self.health(start_response)
        return _json(start_response, "404 Not Found", {"ok": False})

    def events(
        self, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        """Check the request, then hand it to Bolt with its body to read again."""
        body, rejection = _read_body(environ)
        if rejection is None:
            headers = {
                name[5:].lower().replace("_", "-"): str(value)
                for name, value in environ.items()
                if name.startswith("HTTP_")
            }
            content_type = str(environ.get("CONTENT_TYPE", ""))
            rejection = self.check.check(headers, body, content_type)
        if rejection is not None:
            remote = str(environ.get("REMOTE_ADDR", ""))
            self.check.log_rejection(rejection, remote, len(body))
            return _json(start_response, rejection.status, {"ok": False})
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        return self.slack(environ, start_response)

    def health(self, start_response: StartResponse) -> Iterable[bytes]:
        try:
            with self.tracker.db.read() as session:
                session.execute(text("SELECT 1"))
        except ExpbotError as exc:
            logger.warning("health check failed: %s", exc)
            body = {"ok": False, "database": "unavailable"}
            return _json(start_response, "503 Service Unavailable", body)
        return _json(start_response, "200 OK", {"ok": True, "database": "ok"})


def _read_body(environ: dict[str, Any]) -> tuple[bytes, Rejection | None]:
    """Read the request body, or return why it is not read."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return b"", Rejection("400 Bad Request", "Content-Length is not a number")
    if length > MAX_BODY_BYTES:
        return b"", Rejection(
            "413 Content Too Large", f"body over {MAX_BODY_BYTES} bytes"
        )
    stream = environ.get("wsgi.input")
    body = stream.read(length) if stream is not None and length > 0 else b""
    return body, None


def _json(
    start_response: StartResponse, status: str, body: dict[str, Any]
) -> list[bytes]:
    data = json.dumps(body).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    start_response(status, headers)
    return [data]


Handler = Callable[[int, FrameType | None], Any]


def _raise_shutdown(signum: int, _frame: FrameType | None) -> None:
    logger.info("received %s; shutting down", signal.Signals(signum).name)
    # A second signal must not interrupt the cleanup that this one starts.
    _install_signal_handlers(_log_repeated_signal)
    raise ShutdownRequested(0)


def _log_repeated_signal(signum: int, _frame: FrameType | None) -> None:
    logger.info("received %s; already shutting down", signal.Signals(signum).name)


def _install_signal_handlers(handler: Handler) -> dict[int, Any]:
    previous: dict[int, Any] = {}
    for signum in (signal.SIGTERM, signal.SIGINT):
        previous[signum] = signal.signal(signum, handler)
    return previous


def _restore_signal_handlers(previous: dict[int, Any]) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)
