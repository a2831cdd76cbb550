"""A fake Slack Web API on loopback for the real slack_sdk and slack-bolt.

Point a client at it with `WebClient(token=fake.bot_token,
base_url=fake.api_url)`. Besides `/api/<method>` it serves the upload URLs
that files.getUploadURLExternal returns (`/upload/<file_id>`) and response
URLs (`/response/<token>`) minted with `mint_response_url`.
"""

from __future__ import annotations

import copy
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from tests.fakeslack import (
    methods_chat,
    methods_directory,
    methods_files,
    methods_history,
    methods_views,
)
from tests.fakeslack.api import (
    DEFAULT_BOT_SCOPES,
    METHOD_SCOPES,
    ApiRequest,
    MethodFunction,
    SlackError,
)
from tests.fakeslack.calls import RESPONSE_URL, UPLOAD_URL, Call, CallLog
from tests.fakeslack.faults import Fault, FaultQueue
from tests.fakeslack.limits import RateLimit, RateLimiter
from tests.fakeslack.response_urls import ResponseUrls
from tests.fakeslack.wire import (
    DROPPED,
    Reply,
    bearer_token,
    error_reply,
    fault_reply,
    parse_json_object,
    parse_params,
    send_reply,
)
from tests.fakeslack.workspace import (
    APP_TOKEN,
    BOT_TOKEN,
    BOT_USER_ID,
    SIGNING_SECRET,
    Channel,
    Ephemeral,
    Message,
    UploadedFile,
    User,
    View,
    Workspace,
)

logger = logging.getLogger(__name__)

METHODS: dict[str, MethodFunction] = {
    **methods_chat.METHODS,
    **methods_directory.METHODS,
    **methods_files.METHODS,
    **methods_history.METHODS,
    **methods_views.METHODS,
}

DEFAULT_RATE_LIMIT = RateLimit()


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self.server.fake.handle(self)

    def do_POST(self) -> None:
        self.server.fake.handle(self)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("fake slack: %s", format % args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fake: FakeSlack) -> None:
        self.fake = fake
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out on a slow fault has closed its socket by
        # the time the reply is written. That is expected, not a failure.
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError):
            logger.debug("fake slack: client went away: %s", error)
            return
        super().handle_error(request, client_address)


class FakeSlack:
    """A Slack workspace and Web API served on 127.0.0.1 at a free port.

    Use it as a context manager, or call `start()` and `stop()`.
    `rate_limit=None` turns off the chat.postMessage rate limit. `clock`
    (seconds since the epoch, default `time.time`) decides when a late
    success shows in history; tests pass their fake clock.
    """

    def __init__(
        self,
        *,
        bot_token: str = BOT_TOKEN,
        app_token: str = APP_TOKEN,
        signing_secret: str = SIGNING_SECRET,
        scopes: Iterable[str] = DEFAULT_BOT_SCOPES,
        rate_limit: RateLimit | None = DEFAULT_RATE_LIMIT,
        users: list[User] | None = None,
        channels: list[Channel] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        self.signing_secret = signing_secret
        self.scopes = frozenset(scopes)
        self.workspace = Workspace(users, channels)
        if clock is not None:
            self.workspace.clock = clock
        self.log = CallLog()
        self.faults = FaultQueue()
        self.lock = threading.RLock()
        self.socket_mode_url: Callable[[], str] | None = None
        self._rate_limiter = RateLimiter(rate_limit) if rate_limit else None
        self._response_urls = ResponseUrls()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> FakeSlack:
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-slack",
            daemon=True,
        )
        self._thread.start()
        logger.debug("fake slack listening on %s", self.base_url)
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeSlack is not started. Call start() first.")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/"

    @property
    def api_url(self) -> str:
        """The `base_url` for WebClient, ending in a slash as it expects."""
        return f"{self.base_url}api/"

    # -- scripting and inspection -----------------------------------------

    def inject(self, method: str, *faults: Fault) -> None:
        """Queue faults for the next calls of `method`, one per call."""
        self.faults.add(method, faults)

    def calls(self, method: str | None = None, *, ok: bool | None = None) -> list[Call]:
        return self.log.select(method, ok=ok)

    def wait_for_calls(
        self,
        method: str,
        count: int = 1,
        *,
        timeout: float = 5.0,
        ok: bool | None = None,
    ) -> list[Call]:
        return self.log.wait_for(method, count, timeout=timeout, ok=ok)

    def mint_response_url(
        self, channel_id: str | None = None, user_id: str | None = None
    ) -> str:
        with self.lock:
            token = self._response_urls.mint(channel_id, user_id)
        return f"{self.base_url}response/{token}"

    def responses(self, response_url: str) -> list[dict[str, Any]]:
        """Return the bodies posted to a response URL, oldest first."""
        token = response_url.rstrip("/").rsplit("/", 1)[-1]
        with self.lock:
            return copy.deepcopy(self._response_urls.bodies(token))

    def mint_trigger_id(self) -> str:
        with self.lock:
            return self.workspace.mint_trigger_id()

    def messages(self, channel_id: str) -> list[Message]:
        """Return copies of the top-level messages in a channel, oldest first."""
        with self.lock:
            return copy.deepcopy(self.workspace.channel_messages(channel_id))

    def replies(self, channel_id: str, thread_ts: str) -> list[Message]:
        with self.lock:
            return copy.deepcopy(self.workspace.thread_replies(channel_id, thread_ts))

    def message(self, channel_id: str, ts: str) -> Message | None:
        with self.lock:
            return copy.deepcopy(self.workspace.find_message(channel_id, ts))

    def ephemerals(self) -> list[Ephemeral]:
        with self.lock:
            return copy.deepcopy(self.workspace.ephemerals)

    def files(self) -> list[UploadedFile]:
        """Return copies of the files whose upload was completed."""
        with self.lock:
            return [
                copy.deepcopy(f) for f in self.workspace.files.values() if f.completed
            ]

    def home_view(self, user_id: str) -> View | None:
        with self.lock:
            return copy.deepcopy(self.workspace.home_views.get(user_id))

    def dm_channel(self, user_id: str) -> str:
        """Return the id of the bot's DM with a user, opening it if needed."""
        with self.lock:
            return self.workspace.open_im(user_id).id

    def add_user(self, user: User) -> None:
        with self.lock:
            self.workspace.users[user.id] = user

    def add_channel(self, channel: Channel) -> None:
        with self.lock:
            self.workspace.channels[channel.id] = channel

    def set_bot_membership(self, channel_id: str, member: bool) -> None:
        with self.lock:
            members = self.workspace.channels[channel_id].members
            if member:
                members.add(BOT_USER_ID)
            else:
                members.discard(BOT_USER_ID)

    # -- HTTP --------------------------------------------------------------

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        """Route one request and record it in `log`."""
        url = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        headers = dict(handler.headers.items())

        if url.path.startswith("/api/"):
            method = url.path.removeprefix("/api/")
            params = parse_params(url.query, body, headers)
            status, reply, extra = self._handle_api(method, params, headers)
        elif url.path.startswith("/upload/"):
            method = UPLOAD_URL
            params = {"file_id": url.path.removeprefix("/upload/"), "size": len(body)}
            status, reply, extra = self._handle_upload(params["file_id"], body)
        elif url.path.startswith("/response/"):
            method = RESPONSE_URL
            params = parse_json_object(body)
            token = url.path.removeprefix("/response/")
            with self.lock:
                status, reply = self._response_urls.post(token, params, self.workspace)
            extra = {}
        else:
            method, params = "unknown", {}
            status, reply, extra = error_reply("not_found", status=404)

        response = reply if isinstance(reply, dict) else {"raw": reply}
        call = Call(method, params, headers, time.time(), url.path, status, response)
        self.log.record(call)
        logger.debug("fake slack %s -> %s %s", method, status, call.error or "ok")
        if status == DROPPED:
            # No status line: the client reads an empty reply and gives up.
            handler.close_connection = True
            return
        send_reply(handler, status, reply, extra)

    def _handle_api(
        self, method: str, params: dict[str, Any], headers: dict[str, str]
    ) -> Reply:
        token = bearer_token(headers) or params.pop("token", None)
        fault = self.faults.take(method)
        if fault is not None and fault.acts:
            return self._act_then_fail(fault, method, params, token)
        if fault is not None and fault.delay:
            self._stopping.wait(fault.delay)
        if fault is not None and fault.replaces_reply:
            return fault_reply(fault)
        return self._call_method(method, params, token)

    def _act_then_fail(
        self, fault: Fault, method: str, params: dict[str, Any], token: str | None
    ) -> Reply:
        """Do the call, hide what it posted for a while, then reply with `fault`."""
        status, reply, extra = self._call_method(method, params, token)
        if isinstance(reply, dict) and reply.get("ok") and "ts" in reply:
            with self.lock:
                posted = self.workspace.find_message(
                    str(reply.get("channel")), str(reply["ts"])
                )
                if posted is not None:
                    posted.visible_at = self.workspace.clock() + fault.visible_after
        if fault.delay:
            self._stopping.wait(fault.delay)
        if fault.drop:
            return DROPPED, {"dropped": True}, {}
        if fault.replaces_reply:
            return fault_reply(fault)
        return status, reply, extra

    def _call_method(
        self, method: str, params: dict[str, Any], token: str | None
    ) -> Reply:
        error = self._auth_error(method, token)
        if error is not None:
            return error_reply(error)
        if method == "apps.connections.open":
            return self._open_connection()
        function = METHODS.get(method)
        if function is None:
            return error_reply("unknown_method", req_method=method)
        rejected = self._missing_scope(method) or self._rate_limited(method, params)
        if rejected is not None:
            return rejected

        request = ApiRequest(method, params, self.workspace, self.scopes, self.base_url)
        # Slack sends the header in lower case, and Bolt looks it up that way.
        scope_header = {"x-oauth-scopes": ",".join(sorted(self.scopes))}
        with self.lock:
            try:
                fields = function(request)
            except SlackError as exc:
                return error_reply(exc.error, headers=scope_header, **exc.fields)
        return 200, {"ok": True, **fields}, scope_header

    def _missing_scope(self, method: str) -> Reply | None:
        needed = METHOD_SCOPES.get(method, ())
        if not needed or self.scopes.intersection(needed):
            return None
        return error_reply("missing_scope", needed=needed[0])

    def _rate_limited(self, method: str, params: dict[str, Any]) -> Reply | None:
        if method != "chat.postMessage" or self._rate_limiter is None:
            return None
        channel_key = str(params.get("channel"))
        with self.lock:
            channel = self.workspace.find_channel(channel_key)
        retry_after = self._rate_limiter.acquire(channel.id if channel else channel_key)
        if retry_after is None:
            return None
        return error_reply(
            "ratelimited", status=429, headers={"Retry-After": str(retry_after)}
        )

    def _auth_error(self, method: str, token: str | None) -> str | None:
        if not token:
            return "not_authed"
        expected = (
            self.app_token if method == "apps.connections.open" else self.bot_token
        )
        if token == expected:
            return None
        if token in (self.app_token, self.bot_token):
            return "not_allowed_token_type"
        return "invalid_auth"

    def _open_connection(self) -> Reply:
        if self.socket_mode_url is None:
            # Not a Slack error: the test did not start a SocketModeFake.
            return error_reply("fake_socket_mode_not_started")
        return 200, {"ok": True, "url": self.socket_mode_url()}, {}

    def _handle_upload(self, file_id: str, body: bytes) -> Reply:
        with self.lock:
            uploaded = self.workspace.files.get(file_id)
            if uploaded is None:
                return error_reply("file_not_found", status=404)
            uploaded.content = body
        return 200, {"ok": True, "size": len(body)}, {}
