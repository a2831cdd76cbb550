"""Buttons, modal submissions and the App Home tab.

A button's trigger_id expires 3 seconds after the click, so every button
that opens a modal opens it first (a "Loading" placeholder, or the form
with only the experiment id) and only then reads the database and
updates the modal. A modal submission is different: its checks must be
done before the ack, because only the ack can keep the modal open with
`response_action: errors` that explain what was wrong.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.models.views import View

from bot import errors
from bot.commands.search import next_page
from bot.identity import Directory, Identity
from bot.views import (
    ACTION_ADD_NOTE,
    ACTION_MORE,
    ACTION_SHARE,
    ACTION_SHOW,
    ACTION_SHOW_CONFIG,
    CALLBACK_NOTE,
    CALLBACK_SHARE,
    card_modal,
    config_modal,
    home_view,
    loading_modal,
    message_modal,
    note_modal,
    read_metadata,
    render_text,
    share_modal,
)
from bot.views.blocks import escape, escape_to_fit, one_line, truncate
from bot.views.modals import NOTE_BLOCK, NOTE_INPUT, SHARE_BLOCK, SHARE_INPUT
from tracker import people
from tracker.errors import ExpbotError, PermissionDenied
from tracker.query import Field, render
from tracker.records import ExperimentRecord

if TYPE_CHECKING:
    from slack_bolt import App
    from slack_sdk import WebClient

    from bot.settings import Settings
    from tracker import Tracker

logger = logging.getLogger(__name__)

IdentityResolver = Callable[["WebClient", str], Identity]
HOME_RECENT = 10
# A response_url accepts 5 posts within 30 minutes.
MAX_RESPONSES = 5
# NOTE: Slack documents no length for an input's error message; 150
# characters is a guess at what stays readable under the input.
MAX_INPUT_ERROR = 150


def register(
    app: App,
    tracker: Tracker,
    settings: Settings,
    identity_resolver: IdentityResolver | None = None,
) -> Interactions:
    """Install the button, modal and App Home listeners on `app`.

    `identity_resolver(client, slack_user_id)` returns who the user is to
    the tracker; by default the people table via `bot.identity.Directory`.
    """
    interactions = Interactions(tracker, settings, identity_resolver)
    app.action(ACTION_SHARE)(interactions.open_share)
    app.action(ACTION_ADD_NOTE)(interactions.open_note)
    app.action(ACTION_SHOW_CONFIG)(interactions.show_config)
    app.action(ACTION_SHOW)(interactions.show_card)
    app.action(ACTION_MORE)(interactions.more_results)
    app.view(CALLBACK_SHARE)(interactions.submit_share)
    app.view(CALLBACK_NOTE)(interactions.submit_note)
    app.event("app_home_opened")(interactions.publish_home)
    return interactions


class Interactions:
    """The listeners, holding the tracker and how to identify a Slack user."""

    def __init__(
        self,
        tracker: Tracker,
        settings: Settings,
        identity_resolver: IdentityResolver | None = None,
    ) -> None:
        self.tracker = tracker
        self.settings = settings
        self.resolve = identity_resolver or self._directory_identity

    def _directory_identity(self, client: WebClient, user_id: str) -> Identity:
        return Directory(self.tracker, self.settings, client).identify(user_id)

    # -- buttons that open a modal -----------------------------------------

    def open_share(self, ack: Any, body: dict[str, Any], client: WebClient) -> None:
        ack()
        experiment_id = action_value(body)
        channel_id = channel_of(body)
        view_id = open_modal(client, body, share_modal(experiment_id))
        if view_id is None:
            return

        def build(identity: Identity) -> View:
            record = self._changeable(experiment_id, identity)
            return share_modal(experiment_id, record=record, channel_id=channel_id)

        self._fill_modal(client, body, view_id, "Share experiment", build)

    def open_note(self, ack: Any, body: dict[str, Any], client: WebClient) -> None:
        ack()
        experiment_id = action_value(body)
        channel_id = channel_of(body)
        view_id = open_modal(client, body, note_modal(experiment_id))
        if view_id is None:
            return

        def build(identity: Identity) -> View:
            record = self._changeable(experiment_id, identity)
            return note_modal(experiment_id, record=record, channel_id=channel_id)

        self._fill_modal(client, body, view_id, "Add note", build)

    def show_config(self, ack: Any, body: dict[str, Any], client: WebClient) -> None:
        ack()
        experiment_id = action_value(body)
        view_id = open_modal(client, body, loading_modal("Config", experiment_id))
        if view_id is None:
            return

        def build(identity: Identity) -> View:
            record = self.tracker.get(experiment_id, viewer=identity.handle)
            return config_modal(record)

        self._fill_modal(client, body, view_id, "Config", build)

    def show_card(self, ack: Any, body: dict[str, Any], client: WebClient) -> None:
        ack()
        experiment_id = action_value(body)
        view_id = open_modal(client, body, loading_modal("Experiment", experiment_id))
        if view_id is None:
            return

        def build(identity: Identity) -> View:
            record = self.tracker.get(experiment_id, viewer=identity.handle)
            slack_ids = self._slack_ids(record)
            return card_modal(
                record,
                can_change=may_change(record, identity),
                slack_ids=slack_ids,
                direction_of=self.tracker.directions(record.team),
            )

        self._fill_modal(client, body, view_id, "Experiment", build)

    def _fill_modal(
        self,
        client: WebClient,
        body: dict[str, Any],
        view_id: str,
        title: str,
        build: Callable[[Identity], View],
    ) -> None:
        """Replace an opened placeholder with `build`'s view, or with the error."""
        user_id = user_of(body)
        try:
            view = build(self.resolve(client, user_id))
        except ExpbotError as exc:
            logger.info("%s for %s rejected: %s", title, user_id, exc)
            view = message_modal(title, str(exc))
        except Exception as exc:
            reference = errors.new_reference()
            errors.log_unexpected(exc, reference, "%s for %s", title, user_id)
            view = message_modal(title, _plain_apology(reference))
        update_modal(client, view_id, view)

    def _changeable(self, experiment_id: str, identity: Identity) -> ExperimentRecord:
        record = self.tracker.get(experiment_id, viewer=identity.handle)
        if not may_change(record, identity):
            raise PermissionDenied(
                f"Only {record.researcher}, the collaborators or an admin can "
                f"change experiment `{record.short_id}`. Ask {record.researcher} "
                "to share it with you."
            )
        return record

    def _slack_ids(self, record: ExperimentRecord) -> dict[str, str]:
        return people.slack_ids_for(
            self.tracker, [record.researcher, *record.collaborators]
        )

    # -- modal submissions -------------------------------------------------

    def submit_share(
        self, ack: Any, body: dict[str, Any], client: WebClient, view: dict[str, Any]
    ) -> None:
        user_id = user_of(body)
        selected = input_state(view, SHARE_BLOCK, SHARE_INPUT).get("selected_users")
        try:
            target = read_metadata(view)
            identity = self.resolve(client, user_id)
            handles = [self.resolve(client, uid).handle for uid in selected or []]
            before = self.tracker.get(target.experiment_id, viewer=identity.handle)
            record = self.tracker.share(
                target.experiment_id,
                handles,
                actor=identity.handle,
                as_admin=identity.is_admin,
            )
        except Exception as exc:
            ack(
                response_action="errors",
                errors={SHARE_BLOCK: self._input_error(exc, body)},
            )
            return
        ack()

        added = [h for h in record.collaborators if h not in before.collaborators]
        logger.info(
            "%s shared %s with %s", identity.handle, record.id, added or "nobody new"
        )
        confirm(client, user_id, target.channel_id, shared_text(record, added))

    def submit_note(
        self, ack: Any, body: dict[str, Any], client: WebClient, view: dict[str, Any]
    ) -> None:
        user_id = user_of(body)
        text = input_state(view, NOTE_BLOCK, NOTE_INPUT).get("value") or ""
        try:
            target = read_metadata(view)
            identity = self.resolve(client, user_id)
            record = self.tracker.add_note(
                target.experiment_id,
                text,
                author=identity.handle,
                as_admin=identity.is_admin,
            )
        except Exception as exc:
            ack(
                response_action="errors",
                errors={NOTE_BLOCK: self._input_error(exc, body)},
            )
            return
        ack()

        logger.info("%s noted %s", identity.handle, record.id)
        name = escape_to_fit(one_line(record.name), 150)
        message = f":memo: Note added to *{name}* `{record.short_id}`."
        confirm(client, user_id, target.channel_id, message)

    def _input_error(self, exc: Exception, body: dict[str, Any]) -> str:
        """Return the input error for a failed submission; log unexpected ones."""
        if isinstance(exc, ExpbotError):
            logger.info("submission by %s rejected: %s", user_of(body), exc)
            return truncate(str(exc), MAX_INPUT_ERROR)
        reference = errors.new_reference()
        errors.log_unexpected(exc, reference, "submission by %s", user_of(body))
        return truncate(_plain_apology(reference), MAX_INPUT_ERROR)

    # -- paging and App Home -----------------------------------------------

    def more_results(
        self, ack: Any, body: dict[str, Any], client: WebClient, respond: Any
    ) -> None:
        ack()
        user_id = user_of(body)
        value = action_value(body)
        try:
            identity = self.resolve(client, user_id)
            messages = next_page(self.tracker, identity.handle, value)
        except ExpbotError as exc:
            respond(text=errors.describe_error(exc), replace_original=False)
            return
        if len(messages) > MAX_RESPONSES:
            logger.warning(
                "more results cut from %d to %d messages", len(messages), MAX_RESPONSES
            )
        for blocks in messages[:MAX_RESPONSES]:
            respond(
                text=render_text(blocks)[:3000],
                blocks=[block.to_dict() for block in blocks],
                response_type="ephemeral",
                replace_original=False,
            )
        logger.info("more results for %s: %s", user_id, value[:200])

    def publish_home(self, event: dict[str, Any], client: WebClient) -> None:
        if event.get("tab", "home") != "home":
            return
        user_id = str(event.get("user", ""))
        identity = self.resolve(client, user_id)
        query = f"{render(Field('by', identity.handle))} sort:-created"
        recent = self.tracker.search(query, viewer=identity.handle, limit=HOME_RECENT)
        summary = self.tracker.summary(team=identity.team, viewer=identity.handle)
        view = home_view(
            recent,
            summary,
            handle=identity.handle,
            slack_ids={identity.handle: user_id},
        )
        client.views_publish(user_id=user_id, view=view)
        logger.info("published App Home for %s", user_id)


# -- helpers on payloads -----------------------------------------------------


def may_change(record: ExperimentRecord, identity: Identity) -> bool:
    return identity.is_admin or record.can_be_changed_by(identity.handle)


def action_value(body: dict[str, Any]) -> str:
    actions = body.get("actions") or [{}]
    return str(actions[0].get("value") or "")


def user_of(body: dict[str, Any]) -> str:
    return str((body.get("user") or {}).get("id", ""))


def channel_of(body: dict[str, Any]) -> str | None:
    channel = (body.get("channel") or {}).get("id")
    return str(channel) if channel else None


def input_state(view: dict[str, Any], block_id: str, action_id: str) -> dict[str, Any]:
    values = ((view.get("state") or {}).get("values") or {}).get(block_id) or {}
    state = values.get(action_id)
    return state if isinstance(state, dict) else {}


def open_modal(client: WebClient, body: dict[str, Any], view: View) -> str | None:
    """Open `view` at once, stacked on a modal the click came from.

    Returns the new view's id, or None when Slack refused it (for example
    an expired trigger_id), which is logged.
    """
    trigger_id = body.get("trigger_id")
    in_modal = (body.get("view") or {}).get("type") == "modal"
    try:
        if in_modal:
            response = client.views_push(trigger_id=trigger_id, view=view)
        else:
            response = client.views_open(trigger_id=trigger_id, view=view)
    except (SlackApiError, SlackClientError) as exc:
        logger.warning("could not open a modal for %s: %s", user_of(body), exc)
        return None
    return str((response.get("view") or {}).get("id") or "") or None


def update_modal(client: WebClient, view_id: str, view: View) -> None:
    try:
        client.views_update(view_id=view_id, view=view)
    except (SlackApiError, SlackClientError) as exc:
        # The user may have closed the modal already.
        logger.warning("could not update modal %s: %s", view_id, exc)


def confirm(client: WebClient, user_id: str, channel_id: str | None, text: str) -> None:
    """Tell the user a change worked: ephemeral in the channel, else a DM.

    A channel the bot cannot post in (it was removed, or the modal came
    from the App Home tab) falls back to a direct message.
    """
    if channel_id:
        try:
            client.chat_postEphemeral(channel=channel_id, user=user_id, text=text)
            return
        except (SlackApiError, SlackClientError) as exc:
            logger.warning(
                "could not confirm to %s in %s: %s", user_id, channel_id, exc
            )
    try:
        client.chat_postMessage(channel=user_id, text=text)
    except (SlackApiError, SlackClientError) as exc:
        logger.warning("could not confirm to %s by DM: %s", user_id, exc)


def shared_text(record: ExperimentRecord, added: list[str]) -> str:
    name = escape_to_fit(one_line(record.name), 150)
    if not added:
        return (
            f"Everyone you picked already works on *{name}* `{record.short_id}`, "
            "so nothing changed."
        )
    who = ", ".join(escape(handle) for handle in added)
    return f":handshake: Shared *{name}* `{record.short_id}` with {who}."


def _plain_apology(reference: str) -> str:
    return (
        "Sorry, that failed unexpectedly. If it keeps failing, give your "
        f"expbot admin the reference {reference}."
    )
