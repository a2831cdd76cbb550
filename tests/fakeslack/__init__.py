"""A fake Slack for tests: Web API, Socket Mode, signing and payloads.

Everything listens on 127.0.0.1 at free ports and is driven by the real
slack_sdk and slack-bolt clients. See `server.FakeSlack` for the Web API,
`socket_mode.SocketModeFake` for Socket Mode, `signing` for signed HTTP
requests to a Bolt endpoint and `payloads` for what Slack sends.
"""

from tests.fakeslack.calls import RESPONSE_URL, UPLOAD_URL, Call
from tests.fakeslack.faults import Fault
from tests.fakeslack.limits import RateLimit
from tests.fakeslack.server import FakeSlack
from tests.fakeslack.socket_mode import Ack, SocketModeFake
from tests.fakeslack.workspace import (
    APP_ID,
    APP_TOKEN,
    BOT_TOKEN,
    BOT_USER_ID,
    SIGNING_SECRET,
    TEAM_ID,
    Channel,
    Message,
    User,
)

__all__ = [
    "APP_ID",
    "APP_TOKEN",
    "BOT_TOKEN",
    "BOT_USER_ID",
    "RESPONSE_URL",
    "SIGNING_SECRET",
    "TEAM_ID",
    "UPLOAD_URL",
    "Ack",
    "Call",
    "Channel",
    "FakeSlack",
    "Fault",
    "Message",
    "RateLimit",
    "SocketModeFake",
    "User",
]
