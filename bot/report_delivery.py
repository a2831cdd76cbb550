"""Posting a team report to Slack, once per (schedule, period).

The report message goes first and its charts follow as files in the
message's thread. In that order a retry never posts the report twice:
the message ts is stored as soon as Slack returns it, so a retry after a
failed upload only uploads the charts. A channel gets one top-level
message per report, and the charts sit under it.

Each report message carries metadata (`event_type: expbot_report`, with
the schedule id and period). A timeout or 5xx leaves it unknown whether
Slack posted, so the report is `failed` and retried by the catch-up job,
no sooner than `pacing.AMBIGUOUS_RETRY_SECONDS` after the failed attempt
began. The retry posts only if the channel's history shows no message
with its metadata.

Posting works in public channels the bot is not in (chat:write.public),
but uploading does not, and neither works in a private channel the bot is
not in (Slack returns channel_not_found there). In both cases the
schedule's owner gets a direct message that says how to invite the bot,
and the catch-up job retries until the next report is due.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from bot import pacing
from bot import schedule_store as store
from bot.schedule_rules import ScheduleRecord, latest_due, period_for
from bot.slack_calls import (
    HISTORY_MARGIN,
    HISTORY_MAX_PAGES,
    HISTORY_PAGE_SIZE,
    UNKNOWN,
    SlackFailure,
    classify,
)
from bot.views.report import report_blocks
from tracker import models, people
from tracker.report_periods import Period
from tracker.report_render import headline
from tracker.reports import TeamReport, build_report

if TYPE_CHECKING:
    from slack_sdk import WebClient

    from tracker import Tracker

logger = logging.getLogger(__name__)

# Slack's errors when the bot may not post or upload in a channel.
NOT_IN_CHANNEL_ERRORS = frozenset({"not_in_channel", "channel_not_found"})
# A report that Slack rejects for another reason is retried for this long
# after it was due. One whose bot is not in the channel is retried until
# the next report is due.
RETRY_FAILED_FOR = dt.timedelta(hours=24)
# An attempt that ended without a recorded post is retried this long after
# it began at the earliest, so that a post Slack finished late is in
# history by then.
RETRY_WAIT = dt.timedelta(seconds=pacing.AMBIGUOUS_RETRY_SECONDS)
MARKER_EVENT_TYPE = "expbot_report"
NOT_DUE = "not_due"
SKIPPED = "skipped"


@dataclass(frozen=True)
class Outcome:
    state: str
    message_ts: str | None = None
    error: str = ""


def deliver_due(
    tracker: Tracker,
    client: WebClient,
    schedule: ScheduleRecord,
    now: dt.datetime | None = None,
) -> str:
    """Send the schedule's latest due report unless it went out already.

    Returns the delivery's new state, or NOT_DUE / SKIPPED when there was
    nothing to send or another process has the claim.
    """
    now = now or tracker.clock()
    firing = latest_due(schedule, now)
    if firing is None or not schedule.active:
        return NOT_DUE
    period = period_for(schedule, firing)
    earlier = _earlier_attempt(tracker, schedule.id, period.label)
    if earlier is not None and now - earlier < RETRY_WAIT:
        logger.info(
            "report for schedule %s period %s was attempted at %s; retrying after %s",
            schedule.id,
            period.label,
            earlier.isoformat(),
            (earlier + RETRY_WAIT).isoformat(),
        )
        return SKIPPED
    claim = store.claim_delivery(
        tracker,
        schedule.id,
        period.label,
        retry_failed=now - firing < RETRY_FAILED_FOR,
        retry_not_in_channel=True,
    )
    if claim is None:
        return SKIPPED

    check_since = firing if earlier is not None else None
    try:
        outcome = send_claimed(
            tracker, client, schedule, period, claim, check_since=check_since
        )
    except Exception as exc:
        logger.exception(
            "report for schedule %s period %s failed", schedule.id, period.label
        )
        outcome = Outcome(
            store.FAILED, claim.message_ts, f"{type(exc).__name__}: {exc}"
        )
    store.finish_delivery(
        tracker,
        claim,
        outcome.state,
        message_ts=outcome.message_ts,
        error=outcome.error,
    )
    logger.info(
        "report for schedule %s period %s in %s: %s%s",
        schedule.id,
        period.label,
        schedule.channel_id,
        outcome.state,
        f" ({outcome.error})" if outcome.error else "",
    )
    return outcome.state


def send_claimed(
    tracker: Tracker,
    client: WebClient,
    schedule: ScheduleRecord,
    period: Period,
    claim: store.Claim,
    *,
    check_since: dt.datetime | None = None,
) -> Outcome:
    """Post the message unless an earlier attempt did, then upload the charts.

    With `check_since`, an earlier attempt may have posted without
    recording it, so the channel's history from then on is searched for
    the report's metadata first.
    """
    report = build_report(tracker, schedule.team, period)
    message_ts = claim.message_ts
    try:
        if message_ts is None and check_since is not None:
            message_ts = find_report(
                client, schedule.channel_id, schedule.id, period.label, check_since
            )
            if message_ts is not None:
                logger.info(
                    "report for schedule %s period %s was already posted as %s; "
                    "not posting it again",
                    schedule.id,
                    period.label,
                    message_ts,
                )
                store.record_posted(tracker, claim, message_ts)
        if message_ts is None:
            message_ts = post_report(
                client,
                schedule.channel_id,
                report,
                slack_ids_for(tracker, report),
                metadata=report_marker(schedule.id, period.label),
            )
            store.record_posted(tracker, claim, message_ts)
    except SlackFailure as failure:
        return _refused(client, schedule, report, claim, failure, None)

    try:
        charts = _render(report)
    except Exception as exc:
        # The message is out, so a chart bug must not make it retry forever.
        logger.exception("charts of schedule %s failed to render", schedule.id)
        return Outcome(store.DELIVERED, message_ts, f"charts not rendered: {exc}")
    try:
        upload_charts(client, schedule.channel_id, message_ts, report, charts)
    except SlackFailure as failure:
        if failure.error in NOT_IN_CHANNEL_ERRORS:
            return _refused(client, schedule, report, claim, failure, message_ts)
        return Outcome(store.DELIVERED, message_ts, f"charts not uploaded: {failure}")
    return Outcome(store.DELIVERED, message_ts)


def post_report(
    client: WebClient,
    channel: str,
    report: TeamReport,
    slack_ids: Mapping[str, str],
    *,
    metadata: dict[str, Any] | None = None,
) -> str:
    """Post the report's blocks and return the message ts."""
    blocks = report_blocks(
        report, slack_ids=slack_ids, footer=":bar_chart: Charts are in the thread."
    )
    arguments: dict[str, Any] = {
        "channel": channel,
        "text": headline(report),
        "blocks": [block.to_dict() for block in blocks],
        "unfurl_links": False,
        "unfurl_media": False,
    }
    if metadata is not None:
        arguments["metadata"] = metadata
    try:
        response = client.chat_postMessage(**arguments)
    except Exception as exc:
        raise classify("chat.postMessage", exc) from exc
    return str(response["ts"])


def upload_charts(
    client: WebClient,
    channel: str,
    thread_ts: str,
    report: TeamReport,
    charts: list[tuple[str, bytes]] | None = None,
) -> None:
    """Upload the report's PNG charts (rendered now if not given) into a thread."""
    if charts is None:
        charts = _render(report)
    uploads = [
        {"content": data, "filename": name, "title": name.removesuffix(".png")}
        for name, data in charts
    ]
    try:
        client.files_upload_v2(
            channel=channel,
            thread_ts=thread_ts,
            file_uploads=uploads,
            initial_comment=f"Charts for {report.team}, {report.period.title}.",
        )
    except Exception as exc:
        raise classify("files.uploadV2", exc) from exc


def _render(report: TeamReport) -> list[tuple[str, bytes]]:
    # Imported here: matplotlib takes about half a second to import, which
    # every `/exp` command would otherwise pay through this module.
    from tracker.charts import render_charts

    return render_charts(report)


def slack_ids_for(tracker: Tracker, report: TeamReport) -> Mapping[str, str]:
    """Map the researchers the report names to their linked Slack ids."""
    handles = {group.name for group in report.researchers}
    handles |= {failure.researcher for failure in report.failures}
    for best in report.best:
        handles |= {leader.researcher for leader in best.leaders}
    return people.slack_ids_for(tracker, sorted(handles))


def invite_message(schedule: ScheduleRecord, report: TeamReport, error: str) -> str:
    return (
        f"I could not post the {schedule.cadence} report for team *{report.team}* "
        f"({report.period.title}) in <#{schedule.channel_id}>: Slack answered "
        f"`{error}` because I am not a member of that channel. Invite me by "
        f"typing `/invite @expbot` in <#{schedule.channel_id}>, and I will post "
        "the report within 15 minutes."
    )


def _refused(
    client: WebClient,
    schedule: ScheduleRecord,
    report: TeamReport,
    claim: store.Claim,
    failure: SlackFailure,
    message_ts: str | None,
) -> Outcome:
    if failure.error in NOT_IN_CHANNEL_ERRORS:
        if not claim.owner_notified:
            tell_owner(
                client, schedule, invite_message(schedule, report, failure.error)
            )
        return Outcome(store.NOT_IN_CHANNEL, message_ts, str(failure))
    if failure.category == UNKNOWN and failure.method == "chat.postMessage":
        # The retry looks for the message in history before it posts.
        error = f"Slack may have posted it: {failure}"
        return Outcome(store.FAILED, message_ts, error)
    return Outcome(store.FAILED, message_ts, str(failure))


def tell_owner(client: WebClient, schedule: ScheduleRecord, text: str) -> bool:
    """Send the schedule's owner a direct message, and return whether it went."""
    if not schedule.created_by:
        logger.warning("schedule %s has no owner to tell: %s", schedule.id, text)
        return False
    try:
        opened = client.conversations_open(users=schedule.created_by)
        client.chat_postMessage(channel=opened["channel"]["id"], text=text)
    except Exception as exc:
        failure = classify("conversations.open/chat.postMessage", exc)
        logger.warning(
            "could not tell %s about schedule %s: %s",
            schedule.created_by,
            schedule.id,
            failure,
        )
        return False
    return True


def report_marker(schedule_id: int, period: str) -> dict[str, Any]:
    """Return the message metadata that names a scheduled report."""
    return {
        "event_type": MARKER_EVENT_TYPE,
        "event_payload": {"schedule_id": schedule_id, "period": period},
    }


def find_report(
    client: WebClient,
    channel: str,
    schedule_id: int,
    period: str,
    since: dt.datetime,
) -> str | None:
    """Return the ts of the report's message in the channel, if Slack has one.

    Reads the channel's history from `since` (less a margin for clock
    skew) on. Raises SlackFailure when the history cannot be read.
    NOTE: at most HISTORY_MAX_PAGES pages are read; a copy further back
    is not found, and the report is then posted again.
    """
    arguments: dict[str, Any] = {
        "channel": channel,
        "oldest": f"{max((since - HISTORY_MARGIN).timestamp(), 0.0):.6f}",
        "include_all_metadata": True,
        "limit": HISTORY_PAGE_SIZE,
    }
    for _ in range(HISTORY_MAX_PAGES):
        try:
            response = client.conversations_history(**arguments)
        except Exception as exc:
            raise classify("conversations.history", exc) from exc
        for message in response.get("messages") or []:
            metadata = message.get("metadata") or {}
            payload = metadata.get("event_payload") or {}
            if (
                metadata.get("event_type") == MARKER_EVENT_TYPE
                and str(payload.get("schedule_id")) == str(schedule_id)
                and payload.get("period") == period
            ):
                return str(message["ts"])
        cursor = (response.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            return None
        arguments["cursor"] = cursor
    return None


def _earlier_attempt(
    tracker: Tracker, schedule_id: int, period: str
) -> dt.datetime | None:
    """Return when an earlier attempt that recorded no post was claimed.

    None when there was no attempt or its message is recorded, so that
    there is nothing to wait for or to look up.
    """
    statement = select(
        models.ReportDelivery.claimed_at, models.ReportDelivery.message_ts
    ).where(
        models.ReportDelivery.schedule_id == schedule_id,
        models.ReportDelivery.period == period,
    )
    with tracker.db.read() as session:
        row = session.execute(statement).first()
    if row is None or row.message_ts is not None:
        return None
    claimed_at: dt.datetime = row.claimed_at
    return claimed_at
