"""A metric's leaderboard: experiments ranked best first by its direction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from slack_sdk.models.blocks import Block

from bot.views.blocks import (
    ACTION_SHOW,
    MAX_MESSAGE_BLOCKS,
    MAX_MESSAGE_CHARS,
    STATUS_EMOJI,
    button,
    cap_blocks,
    check_blocks,
    code_span,
    context,
    escape_to_fit,
    format_number,
    header,
    mention,
    one_line,
    section,
)
from tracker.records import LeaderboardEntry

MEDALS = {1: ":first_place_medal:", 2: ":second_place_medal:", 3: ":third_place_medal:"}


def leaderboard_blocks(
    metric: str,
    direction: str,
    entries: Sequence[LeaderboardEntry],
    *,
    query: str = "",
    slack_ids: Mapping[str, str] | None = None,
    max_blocks: int = MAX_MESSAGE_BLOCKS,
    max_chars: int = MAX_MESSAGE_CHARS,
    notice: str = "",
) -> list[Block]:
    """Build the ranking of `entries` for `metric`, one section per entry.

    `direction` is "min" or "max" (as in `tracker.directions`); each row
    has a Show button that opens the experiment's card. `notice` (mrkdwn)
    is a context line under an empty ranking, e.g. the known metrics.
    """
    better = "lower is better" if direction == "min" else "higher is better"
    scope = f" · among {code_span(query)}" if query.strip() else ""
    blocks: list[Block] = [
        header(f"Leaderboard: {metric}"),
        context(f"{'↓' if direction == 'min' else '↑'} {better}{scope}"),
    ]
    if not entries:
        empty = (
            f"No experiments have a value for {code_span(metric, 80)}"
            f"{' that match the query' if query.strip() else ''}."
        )
        # A notice names a misspelt or unknown metric, and then logging a
        # value for that name is the wrong advice.
        if not notice:
            empty += " Log it with `expbot log ID metric=value`."
        blocks.append(section(empty))
        if notice:
            blocks.append(context(notice))
        return check_blocks(blocks, max_blocks=max_blocks, max_chars=max_chars)

    for entry in entries:
        blocks.append(_entry_row(entry, slack_ids))
    capped = cap_blocks(blocks, max_blocks, "entry", max_chars=max_chars)
    return check_blocks(capped, max_blocks=max_blocks, max_chars=max_chars)


def _entry_row(entry: LeaderboardEntry, slack_ids: Mapping[str, str] | None) -> Block:
    record = entry.experiment
    rank = MEDALS.get(entry.rank, f"*{entry.rank}.*")
    status = STATUS_EMOJI.get(record.status, "")
    text = (
        f"{rank}  *{format_number(entry.value)}*  "
        f"{escape_to_fit(one_line(record.name), 100)} `{record.short_id}`  {status}\n"
        f"{mention(record.researcher, slack_ids)}"
    )
    if record.project:
        text += f" · {escape_to_fit(record.project, 80)}"
    return section(text, accessory=button("Show", ACTION_SHOW, record.id))
