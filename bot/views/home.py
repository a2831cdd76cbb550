"""The App Home tab: the user's recent experiments and the team summary."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.views.blocks import (
    MAX_VIEW_BLOCKS,
    MAX_VIEW_CHARS,
    check_blocks,
    context,
    divider,
    escape_to_fit,
    header,
    section,
    text_size,
)
from bot.views.cards import experiment_row
from bot.views.summary import summary_blocks
from tracker.records import ExperimentRecord, Summary

HOME_RECENT = 10


def home_view(
    recent: Sequence[ExperimentRecord],
    summary: Summary | None,
    *,
    handle: str | None = None,
    slack_ids: Mapping[str, str] | None = None,
) -> View:
    """Build the Home tab for one user: at most 100 blocks.

    `handle` is the researcher the Slack user is linked to; None shows how
    to link. `recent` are that researcher's latest experiments (the first
    10 are shown) and `summary` the team's dashboard, or None to leave it
    out. Mentions in a Home tab notify no one, so `slack_ids` is safe here.
    """
    blocks: list[Block] = [header("expbot"), context(_greeting(handle))]
    blocks.append(header("Your recent experiments"))
    if recent:
        blocks.extend(
            experiment_row(record, slack_ids=slack_ids)
            for record in recent[:HOME_RECENT]
        )
    elif handle is None:
        blocks.append(section("Link your account to see your experiments here."))
    else:
        blocks.append(
            section(
                "You have no experiments yet. Track one with "
                f"`expbot track NAME --researcher {escape_to_fit(handle, 100)}`."
            )
        )
    if summary is not None:
        blocks.append(divider())
        room = MAX_VIEW_BLOCKS - len(blocks)
        chars = MAX_VIEW_CHARS - sum(text_size(block) for block in blocks)
        blocks.extend(
            summary_blocks(
                summary, slack_ids=slack_ids, max_blocks=room, max_chars=chars
            )
        )
    checked = check_blocks(blocks, max_blocks=MAX_VIEW_BLOCKS, max_chars=MAX_VIEW_CHARS)
    return View(type="home", blocks=checked)


def _greeting(handle: str | None) -> str:
    if handle is None:
        return (
            "Your Slack account is not linked to a researcher yet. "
            "Link it with `/exp link HANDLE`, then reopen this tab."
        )
    return (
        f"Signed in as *{escape_to_fit(handle, 100)}*. "
        "Type `/exp help` in any channel for the commands."
    )
