"""The bot's settings, read from the environment in one place.

`Settings.from_env()` only parses. `require_slack()` checks that the tokens
a Slack connection needs are present and well formed. So `expbot shell`
runs with no Slack tokens at all, while `expbot serve` fails at start with
a message that names the variable and the fix.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from tracker.errors import ExpbotError

DEFAULT_PORT = 3000
DEFAULT_HOST = "0.0.0.0"
# Slack user ids start with U, or W in Enterprise Grid.
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")


class SettingsError(ExpbotError):
    """A missing or malformed environment variable."""

    exit_status = 2


@dataclass(frozen=True)
class Settings:
    # Secrets are kept out of repr so a logged Settings never shows them.
    bot_token: str | None = field(default=None, repr=False)
    signing_secret: str | None = field(default=None, repr=False)
    app_token: str | None = field(default=None, repr=False)
    api_url: str | None = None  # Web API base URL, ending in "/"
    admins: frozenset[str] = frozenset()  # Slack user ids
    database_url: str | None = None  # None selects SQLite in `home`
    home: Path = Path.home() / ".expbot"
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the settings; raise SettingsError for a malformed value."""
        env = os.environ if environ is None else environ
        home = env.get("EXPBOT_HOME") or str(Path.home() / ".expbot")
        return cls(
            bot_token=_strip(env.get("SLACK_BOT_TOKEN")),
            signing_secret=_strip(env.get("SLACK_SIGNING_SECRET")),
            app_token=_strip(env.get("SLACK_APP_TOKEN")),
            api_url=_api_url(env.get("SLACK_API_URL")),
            admins=_admins(env.get("EXPBOT_ADMINS", "")),
            database_url=_strip(env.get("EXPBOT_DATABASE_URL")),
            home=Path(home).expanduser(),
            host=_strip(env.get("EXPBOT_HOST")) or DEFAULT_HOST,
            port=_port(env.get("EXPBOT_PORT") or env.get("PORT")),
        )

    @property
    def tracker_database_url(self) -> str:
        """Return the database URL, defaulting to SQLite in `home`."""
        return self.database_url or f"sqlite:///{self.home / 'expbot.db'}"

    @property
    def socket_mode_available(self) -> bool:
        return self.app_token is not None

    def require_slack(self, *, socket_mode: bool) -> None:
        """Raise SettingsError unless the tokens for a Slack connection are set.

        HTTP mode needs the bot token and the signing secret; Socket Mode
        needs the bot token and the app-level token.
        """
        _check_token(
            "SLACK_BOT_TOKEN",
            self.bot_token,
            "xoxb-",
            "the Bot User OAuth Token from your Slack app's OAuth & Permissions page",
        )
        if socket_mode:
            _check_token(
                "SLACK_APP_TOKEN",
                self.app_token,
                "xapp-",
                "an app-level token with the connections:write scope, made on "
                "your Slack app's Basic Information page",
            )
        elif not self.signing_secret:
            raise SettingsError(
                "SLACK_SIGNING_SECRET is not set: copy the Signing Secret from "
                "your Slack app's Basic Information page and export it, or set "
                "SLACK_APP_TOKEN to use Socket Mode instead."
            )

    def is_admin(self, user_id: str) -> bool:
        return user_id in self.admins


def _strip(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def _check_token(name: str, value: str | None, prefix: str, where: str) -> None:
    if not value:
        raise SettingsError(
            f"{name} is not set: export {name}={prefix}... with {where}."
        )
    if not value.startswith(prefix):
        # Show only the token's kind: the rest of a token is a secret.
        kind = value.split("-", 1)[0] + "-" if "-" in value else "no known prefix"
        raise SettingsError(
            f"{name} must start with {prefix}, but it starts with {kind}: use {where}."
        )


def _api_url(value: str | None) -> str | None:
    url = _strip(value)
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SettingsError(
            f"SLACK_API_URL {url!r} is not an http(s) URL: use e.g. "
            "https://slack.com/api/ or unset it."
        )
    # The SDK joins method names onto the base URL, which must end in "/".
    return url if url.endswith("/") else url + "/"


def _admins(value: str) -> frozenset[str]:
    admins = [part.strip() for part in value.split(",") if part.strip()]
    for admin in admins:
        if not _USER_ID.match(admin):
            raise SettingsError(
                f"EXPBOT_ADMINS entry {admin!r} is not a Slack user id: list ids "
                "like U012AB3CD, comma-separated (Slack shows a user's id in "
                "their profile under 'Copy member ID')."
            )
    return frozenset(admins)


def _port(value: str | None) -> int:
    text = _strip(value)
    if text is None:
        return DEFAULT_PORT
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise SettingsError(
            f"EXPBOT_PORT {text!r} is not a port number: use a whole number "
            "from 1 to 65535, e.g. 3000."
        )
    return int(text)
