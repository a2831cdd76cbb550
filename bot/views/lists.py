"""Search results as pages of rows, with a "Next" button for the next page."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from slack_sdk.models.blocks import Block

from bot.views.blocks import (
    ACTION_MORE,
    MAX_BUTTON_VALUE,
    MAX_MESSAGE_BLOCKS,
    MAX_MESSAGE_CHARS,
    actions,
    button,
    check_blocks,
    code_span,
    context,
    section,
    text_size,
)
from bot.views.cards import experiment_row
from tracker.errors import InvalidInput
from tracker.grammar import plural
from tracker.records import ExperimentRecord

SEARCH_PAGE_SIZE = 20
# The maximum rows a Next button requests. Even rows of the longest kind
# then fit in 4 messages, within the 5 posts a response_url accepts.
MAX_PAGE_SIZE = 50


@dataclass(frozen=True)
class MatchCount:
    """The number of experiments that match a query, or a lower bound.

    `more` is set when counting stopped at `total` and more match.
    """

    total: int
    more: bool = False

    @property
    def verb(self) -> str:
        return "matches" if self.total == 1 and not self.more else "match"

    def describe(self) -> str:
        """Return e.g. "1 experiment", "46 experiments" or "1,000+ experiments"."""
        if self.more:
            return f"{self.total:,}+ experiments"
        return plural(self.total, "experiment")


@dataclass(frozen=True)
class PageRequest:
    """The query, offset and page size that a "Next" button requests."""

    query: str
    offset: int
    page_size: int


def search_results(
    records: Sequence[ExperimentRecord],
    *,
    query: str,
    total: int,
    offset: int = 0,
    page_size: int = SEARCH_PAGE_SIZE,
    slack_ids: Mapping[str, str] | None = None,
    notice: str = "",
    more_than_total: bool = False,
) -> list[list[Block]]:
    """Build one page of search results as messages of at most 50 blocks.

    `records` are the page's experiments, found at `offset` among `total`
    matches of `query`. Rows that do not fit one message continue in the
    next. When more matches remain, the last message ends with a "Next"
    button for the next page. The first message is the reply, and the
    rest are follow-ups. `notice` (mrkdwn) is a context line under the
    first line, e.g. a warning about the query. `more_than_total` marks
    `total` as a lower bound, from a count that stopped early, shown as
    "1,000+".
    """
    if not records:
        blocks = [section(_nothing_found(query, total, offset))]
        return [check_blocks(blocks + _notice_blocks(notice))]

    rows = [experiment_row(record, slack_ids=slack_ids) for record in records]
    end = offset + len(rows)
    matches = MatchCount(total, more_than_total)
    summary = _summary_line(query, matches, offset, end)
    intro = [section(summary), *_notice_blocks(notice)]
    outro = _outro(query, matches, end, page_size)

    messages: list[list[Block]] = []
    current: list[Block] = intro
    used = sum(text_size(block) for block in intro)
    for row in rows:
        size = text_size(row)
        if not _fits(current, used, 1, size):
            messages.append(current)
            current, used = [], 0
        current.append(row)
        used += size
    if not _fits(current, used, len(outro), sum(text_size(b) for b in outro)):
        messages.append(current)
        current = []
    current.extend(outro)
    messages.append(current)
    return [check_blocks(m, max_chars=MAX_MESSAGE_CHARS) for m in messages]


def _fits(message: list[Block], used: int, blocks: int, chars: int) -> bool:
    return (
        len(message) + blocks <= MAX_MESSAGE_BLOCKS
        and used + chars <= MAX_MESSAGE_CHARS
    )


def more_value(query: str, offset: int, page_size: int) -> str | None:
    """Return the Next button's value as compact JSON, or None if too long.

    The page size is capped at MAX_PAGE_SIZE.
    """
    value = json.dumps(
        {"q": query, "o": offset, "n": max(1, min(page_size, MAX_PAGE_SIZE))},
        separators=(",", ":"),
        ensure_ascii=False,
    )
    if len(value) > MAX_BUTTON_VALUE:
        return None
    return value


def parse_more_value(value: str) -> PageRequest:
    """Read a Next button's value; raise InvalidInput if it is malformed."""
    try:
        data = json.loads(value)
        query, offset, page_size = data["q"], data["o"], data["n"]
    except (ValueError, TypeError, KeyError) as exc:
        raise InvalidInput(
            "This Next button is broken. Run the search again with `/exp search`."
        ) from exc
    valid = (
        isinstance(query, str)
        and isinstance(offset, int)
        and isinstance(page_size, int)
        and offset >= 0
        and 1 <= page_size <= MAX_PAGE_SIZE
    )
    if not valid:
        raise InvalidInput(
            "This Next button is broken. Run the search again with `/exp search`."
        )
    return PageRequest(query, offset, page_size)


def _notice_blocks(notice: str) -> list[Block]:
    return [context(notice)] if notice else []


def _summary_line(query: str, matches: MatchCount, start: int, end: int) -> str:
    where = f" {matches.verb} {code_span(query)}" if query.strip() else ""
    return f"*{matches.describe()}*{where} · showing {start + 1}–{end}"


def _nothing_found(query: str, total: int, offset: int) -> str:
    if total and offset >= total:
        return (
            f"No more results: all {total} are shown. Run the search again to refresh."
        )
    if query.strip():
        return (
            f"No experiments match {code_span(query)}. "
            "Try fewer terms, or see `/exp help search` for the syntax."
        )
    return "No experiments yet. Track one with `expbot track NAME` or the Python API."


def _outro(query: str, matches: MatchCount, end: int, page_size: int) -> list[Block]:
    remaining = matches.total - end
    if remaining <= 0 and not matches.more:
        return []
    value = more_value(query, end, page_size)
    if value is None:
        more = f"{remaining:,}+" if matches.more else f"{remaining}"
        return [
            context(
                f"{more} more. The query is too long to page with a button: "
                "narrow it to see the rest."
            )
        ]
    label = next_page_label(end, matches.total, page_size, more=matches.more)
    return [actions(button(label, ACTION_MORE, value))]


def next_page_label(
    shown: int, total: int, page_size: int, *, more: bool = False
) -> str:
    """Label the button for the next page, e.g. "Next 20 (21–40 of 46)".

    With `more`, `total` is a lower bound, shown as "1,000+", and a page
    past it is labelled as full because its size is unknown.
    """
    count = min(page_size, total - shown)
    if more and count <= 0:
        count = page_size
    first, last = shown + 1, shown + count
    rows = f"{first}" if first == last else f"{first}–{last}"
    of = f"{total:,}+" if more else f"{total}"
    return f"Next {count} ({rows} of {of})"
