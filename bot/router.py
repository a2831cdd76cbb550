"""The `/exp` slash command: acknowledge, parse, run a subcommand, respond.

Slack shows the user an error if a slash command is not acknowledged within
3 seconds. So the listener acknowledges first and does nothing else, and
the work (identifying the user, the tracker queries, the reply) runs on
the app's command worker pool. Bolt's lazy listeners would also work, but
they share Bolt's listener executor with the acknowledging functions, so a
burst of slow commands could delay other requests' acks. A pool of its own
keeps ack latency independent of command latency, and gives shutdown one
place to wait for work in flight.

`execute()` is the Slack-free core that `expbot shell` uses too.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import logging
import time
from collections.abc import Callable
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    MarkdownTextObject,
    SectionBlock,
)

import bot.commands  # noqa: F401  (registers the subcommands)
from bot import errors, in_flight, retries, slack_text
from bot.commands.base import COMMANDS, Command, CommandContext, Reply
from bot.identity import Directory, Identity
from tracker.errors import ExpbotError, InvalidInput, InvalidQuery

if TYPE_CHECKING:
    from slack_bolt import App
    from slack_sdk import WebClient

    from bot.settings import Settings
    from tracker import Tracker

logger = logging.getLogger(__name__)

ACTION_POST_TO_CHANNEL = "expbot.post_to_channel"
MAX_MESSAGE_BLOCKS = 50
# A response_url accepts 5 posts within 30 minutes.
MAX_RESPONSES = 5
MAX_BUTTON_VALUE = 2000
MAX_SECTION_TEXT = 3000


# -- the Slack-free core ------------------------------------------------------


def split_command(text: str) -> tuple[str, str]:
    """Split `search tag:nlp` into ("search", "tag:nlp") at any whitespace."""
    name, args = slack_text.split_first(text)
    return name.lower(), args.strip()


def execute(ctx: CommandContext, text: str) -> Reply:
    """Run one `/exp` line (without the `/exp`) and return the reply.

    A tracker error becomes a short reply that names the value and the next
    step. Any other exception becomes an apology with a reference id, and
    is logged with its traceback under that id.
    """
    name, args = split_command(text)
    name = name or "help"
    command = COMMANDS.get(name)
    if command is None:
        return unknown_command(name)
    try:
        reply = command.handler(ctx, args)
    except InvalidQuery as exc:
        # Its message already points to `/exp help search`.
        return error_reply(errors.describe_error(exc))
    except InvalidInput as exc:
        return usage_reply(command, exc)
    except ExpbotError as exc:
        return error_reply(errors.describe_error(exc))
    except Exception as exc:
        reference = errors.new_reference()
        errors.log_unexpected(exc, reference, "/exp %s by %s", name, ctx.user_id)
        return error_reply(errors.apology(reference, f"`/exp {name}`"))
    if command.changes_data:
        # A confirmation of a change is of no use to the rest of a channel.
        reply.shareable = False
    return reply


def usage_reply(command: Command, exc: InvalidInput) -> Reply:
    """Reply to bad arguments with the error, the usage and where to read more."""
    usage = slack_text.escape(f"/exp {command.usage}")
    return error_reply(
        f"{errors.describe_error(exc)}\nUsage: `{usage}`. "
        f"Examples: `/exp help {command.name}`."
    )


def unknown_command(name: str) -> Reply:
    guesses = difflib.get_close_matches(name, list(COMMANDS), n=1)
    hint = f" Did you mean `/exp {guesses[0]}`?" if guesses else ""
    return error_reply(
        f":question: Unknown subcommand {slack_text.code(name)}.{hint} "
        "Type `/exp help` for the list."
    )


def error_reply(text: str) -> Reply:
    return Reply(text=text, shareable=False, error=True)


# -- turning replies into Slack messages --------------------------------------


def messages(reply: Reply, command_text: str | None = None) -> list[dict[str, Any]]:
    """Return the reply and its followups as response_url payloads.

    Blocks are split into messages of at most 50 (Slack's limit), and the
    "Post to channel" button goes under the last message when the reply
    is shareable and `command_text` (to run again) fits in a button.
    """
    payloads: list[dict[str, Any]] = []
    button = _post_button(reply, command_text)
    for part in [reply, *reply.followups]:
        blocks = part.blocks
        if button is not None and part is reply and not blocks:
            # With blocks present Slack shows only them, so the text moves
            # into a block when the button needs one.
            blocks = [text_block(reply.text)]
        for chunk in _chunks(blocks) or [[]]:
            payload: dict[str, Any] = {
                "text": part.text,
                "response_type": part.response_type,
            }
            if chunk:
                payload["blocks"] = [block.to_dict() for block in chunk]
            payloads.append(payload)
    if button is not None:
        last = payloads[-1]
        if len(last.get("blocks", [])) >= MAX_MESSAGE_BLOCKS:
            last = {"text": reply.text, "response_type": reply.response_type}
            payloads.append(last)
        last.setdefault("blocks", []).append(button.to_dict())
    if len(payloads) > MAX_RESPONSES:
        logger.warning("reply of %d messages cut to %d", len(payloads), MAX_RESPONSES)
        payloads = payloads[:MAX_RESPONSES]
    return payloads


def text_block(text: str) -> Block:
    return SectionBlock(text=MarkdownTextObject(text=text[:MAX_SECTION_TEXT]))


def _chunks(blocks: list[Block]) -> list[list[Block]]:
    step = MAX_MESSAGE_BLOCKS
    return [blocks[i : i + step] for i in range(0, len(blocks), step)]


def _post_button(reply: Reply, command_text: str | None) -> Block | None:
    if command_text is None or reply.error or not reply.shareable:
        return None
    if reply.response_type != "ephemeral":
        return None
    value = json.dumps({"text": command_text})
    if len(value) > MAX_BUTTON_VALUE:
        return None
    button = ButtonElement(
        text="Post to channel", action_id=ACTION_POST_TO_CHANNEL, value=value
    )
    return ActionsBlock(block_id="expbot.post", elements=[button])


# -- the Bolt listeners -------------------------------------------------------


class SlashCommand:
    """The `/exp` listener and its "Post to channel" button."""

    def __init__(self, tracker: Tracker, settings: Settings, workers: Executor):
        self.tracker = tracker
        self.settings = settings
        self.workers = workers
        self.requests = retries.RequestLog(tracker)

    def register(self, app: App) -> None:
        app.command("/exp")(self.acknowledge_command)
        app.action(ACTION_POST_TO_CHANNEL)(self.acknowledge_post)

    def acknowledge_command(
        self, ack: Any, body: dict[str, Any], respond: Any, client: WebClient
    ) -> None:
        ack()
        self._submit_in_flight(self.run_command, body, respond, client)

    def acknowledge_post(
        self, ack: Any, body: dict[str, Any], respond: Any, client: WebClient
    ) -> None:
        ack()
        key = post_key(body)
        if key is not None and not self.requests.claim(key):
            logger.info("dropped repeated post to channel %s", key)
            return
        self._submit_in_flight(self.run_post, body, respond, client, key)

    def _submit_in_flight(self, work: Callable[..., None], *args: Any) -> None:
        """Run `work` on the worker pool, counted as a request in flight.

        The count starts before the work is queued, so the dispatcher makes
        way from the moment the request is acknowledged.
        """

        def counted() -> None:
            try:
                work(*args)
            finally:
                in_flight.REQUESTS.end()

        in_flight.REQUESTS.begin()
        try:
            self.workers.submit(counted)
        except BaseException:
            in_flight.REQUESTS.end()
            raise

    def context(
        self, body: dict[str, Any], client: WebClient, user_id: str, channel_id: str
    ) -> tuple[CommandContext, Directory, Identity]:
        directory = Directory(self.tracker, self.settings, client)
        identity = directory.identify(user_id, body.get("user_name", ""))
        ctx = CommandContext(
            tracker=self.tracker,
            settings=self.settings,
            user_id=user_id,
            handle=identity.handle,
            is_admin=identity.is_admin,
            channel_id=channel_id,
            team=identity.team,
            client=client,
            group_mentions=tuple(slack_text.group_mentions(body.get("text", ""))),
        )
        return ctx, directory, identity

    def run_command(self, body: dict[str, Any], respond: Any, client: WebClient):
        started = time.monotonic()
        user_id = str(body.get("user_id", ""))
        name = split_command(slack_text.unescape(body.get("text", "")))[0] or "help"
        notice = ""
        try:
            ctx, directory, identity = self.context(
                body, client, user_id, str(body.get("channel_id", ""))
            )
            notice = identity.notice
            text = slack_text.to_plain(body.get("text", ""), directory.handle_for)
            reply = execute(ctx, text)
        except Exception as exc:
            # `execute` handles its own errors; this is identity, a mention of
            # an unknown user, or the database.
            reply, text = self._failure(exc, name, user_id), ""
        payloads = messages(reply, text or None)
        if notice:
            # Sent once: the user's person exists from now on.
            notice_payload = {"text": notice, "response_type": "ephemeral"}
            payloads = [notice_payload, *payloads][:MAX_RESPONSES]
        self._send(respond, payloads, user_id)
        outcome = "error" if reply.error else "ok"
        elapsed = (time.monotonic() - started) * 1000
        logger.info("/exp %s by %s: %s in %.0f ms", name, user_id, outcome, elapsed)

    def run_post(
        self,
        body: dict[str, Any],
        respond: Any,
        client: WebClient,
        key: str | None = None,
    ) -> None:
        """Run the command again for the channel and post it there.

        `key` is the claimed id of the clicked message; a failed post
        releases it, so the user may click again.
        """
        user_id = str((body.get("user") or {}).get("id", ""))
        channel_id = str((body.get("channel") or {}).get("id", ""))
        action = (body.get("actions") or [{}])[0]
        try:
            text = str(json.loads(action.get("value") or "{}").get("text", ""))
            ctx, _, _ = self.context(body, client, user_id, channel_id)
            ctx.public = True
            reply = execute(ctx, text)
        except Exception as exc:
            reply = self._failure(exc, "post to channel", user_id)
        if reply.error:
            self._release(key)
            self._send(respond, messages(reply), user_id)
            return
        for part in [reply, *reply.followups]:
            part.response_type = "in_channel"
        reply.blocks = [*(reply.blocks or [text_block(reply.text)])]
        reply.blocks.append(_posted_by(user_id, text))
        posted = self._post_in_channel(respond, client, channel_id, reply, user_id)
        if posted:
            _quietly(respond, delete_original=True)
        else:
            self._release(key)
        name = split_command(text)[0] or "help"
        outcome = "posted" if posted else "not posted"
        logger.info("/exp %s to %s by %s: %s", name, channel_id, user_id, outcome)

    def _post_in_channel(
        self,
        respond: Any,
        client: WebClient,
        channel_id: str,
        reply: Reply,
        user_id: str,
    ) -> bool:
        payloads = messages(reply)
        sent = self._send(respond, payloads, user_id, replace_original=False)
        if sent == len(payloads):
            return True
        # A response_url expires after 30 minutes; post the rest as the bot.
        try:
            for payload in payloads[sent:]:
                client.chat_postMessage(
                    channel=channel_id,
                    text=payload["text"],
                    blocks=payload.get("blocks"),
                )
        except (SlackApiError, SlackClientError) as exc:
            logger.warning("failed to post to %s: %s", channel_id, exc)
            text = (
                ":warning: I could not post to this channel. Invite me with "
                "`/invite @expbot` and try again."
            )
            _quietly(respond, text=text, response_type="ephemeral")
            return False
        return True

    def _release(self, key: str | None) -> None:
        if key is not None:
            self.requests.release(key)

    def _failure(self, exc: Exception, name: str, user_id: str) -> Reply:
        if isinstance(exc, ExpbotError):
            return error_reply(errors.describe_error(exc))
        reference = errors.new_reference()
        errors.log_unexpected(exc, reference, "/exp %s by %s", name, user_id)
        return error_reply(errors.apology(reference, f"`/exp {name}`"))

    def _send(
        self,
        respond: Any,
        payloads: list[dict[str, Any]],
        user_id: str,
        **options: Any,
    ) -> int:
        """Send payloads through the response_url; return how many were sent."""
        for sent, payload in enumerate(payloads):
            try:
                response = respond(**payload, **options)
            except Exception:
                logger.exception("response to %s failed", user_id)
                return sent
            status = getattr(response, "status_code", 200)
            if status >= 300:
                logger.warning("response to %s got HTTP %s", user_id, status)
                return sent
        return len(payloads)


def post_key(body: dict[str, Any]) -> str | None:
    """Return the id of one "Post to channel" button in one message.

    Slack gives each click its own action_ts, so a double click arrives as
    two requests that the retry check lets through. Both carry the
    message_ts of the message that contains the button.
    """
    container = body.get("container") or {}
    message_ts = container.get("message_ts")
    if not message_ts:
        return None
    channel_id = container.get("channel_id") or (body.get("channel") or {}).get("id")
    user_id = (body.get("user") or {}).get("id", "")
    value = str((body.get("actions") or [{}])[0].get("value") or "")
    digest = hashlib.sha256(value.encode()).hexdigest()[:16]
    return f"post:{user_id}:{channel_id}:{message_ts}:{digest}"


def _posted_by(user_id: str, command_text: str) -> Block:
    text = f"Posted by <@{user_id}> with {slack_text.code('/exp ' + command_text)}"
    return ContextBlock(elements=[MarkdownTextObject(text=text)])


def _quietly(respond: Any, **payload: Any) -> None:
    try:
        respond(**payload)
    except Exception:
        logger.warning("follow-up response failed", exc_info=True)
