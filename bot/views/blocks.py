"""Block Kit building blocks: mrkdwn escaping, truncation, chunking, limits.

Every builder in `bot.views` makes its blocks with these helpers, so user
text is escaped once and cut to Slack's limits, and ends with
`check_blocks`, which raises `BlockLimitError` for anything Slack would
reject with `invalid_blocks`. The limits come from the Block Kit reference
on docs.slack.dev. The SDK's classes check text lengths when serialised,
but not the number of blocks in a message.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from tracker.grammar import plural

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
# NOTE: Slack documents no limit on the total text of a message's blocks,
# but chat.postMessage has been reported (slackapi/bolt-js issue tracker,
# 2025) to reject blocks with msg_blocks_too_long once their text totals
# about 12,000 characters. This budget is an estimate below that.
MAX_MESSAGE_CHARS = 11_000
# NOTE: a view is reported to be limited to 250 kB of JSON. This budget is
# an estimate: 50,000 characters stay below that even in 3-byte UTF-8.
MAX_VIEW_CHARS = 50_000
MAX_SECTION_TEXT = 3000
MAX_FIELDS = 10
MAX_FIELD_TEXT = 2000
MAX_HEADER_TEXT = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_CONTEXT_TEXT = 3000
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_ACTIONS_ELEMENTS = 25

# Action ids and modal callback ids, namespaced so that other apps' and
# Bolt's own listeners never match them.
ACTION_SHARE = "expbot.share"
ACTION_ADD_NOTE = "expbot.add_note"
ACTION_SHOW_CONFIG = "expbot.show_config"
ACTION_SHOW = "expbot.show"
ACTION_MORE = "expbot.more"
CALLBACK_SHARE = "expbot.share_submit"
CALLBACK_NOTE = "expbot.note_submit"
CALLBACK_INFO = "expbot.info"

ELLIPSIS = "…"
_SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")


class BlockLimitError(ValueError):
    """Blocks that break a Block Kit limit, so Slack would reject them."""


# -- text ------------------------------------------------------------------


def escape(text: str) -> str:
    """Escape `&`, `<` and `>` so user text cannot form mentions or links.

    Slack reads `<!channel>`, `<@U123>` and `<https://x|label>` as control
    sequences in mrkdwn; escaped, they show as typed and notify no one.
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def truncate(text: str, limit: int) -> str:
    """Cut plain text to at most `limit` characters, ending with an ellipsis."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - 1)] + ELLIPSIS


def cut_mrkdwn(text: str, limit: int) -> str:
    """Cut escaped mrkdwn to `limit` characters without breaking markup.

    The cut backs off to before an `&amp;`-style entity or a `<...>` link
    or mention that it would split, so Slack never receives half of one.
    """
    if len(text) <= limit:
        return text
    cut = text[: max(0, limit - 1)]
    entity = cut.rfind("&")
    if entity != -1 and ";" not in cut[entity:]:
        cut = cut[:entity]
    opening = cut.rfind("<")
    if opening != -1 and ">" not in cut[opening:]:
        cut = cut[:opening]
    return cut + ELLIPSIS


def escape_to_fit(text: str, limit: int) -> str:
    """Escape user text for mrkdwn and cut the result to `limit` characters."""
    return cut_mrkdwn(escape(text), limit)


def one_line(text: str) -> str:
    """Join the lines of user text with spaces, for one-line summaries."""
    return " ".join(text.split())


def mention(handle: str, slack_ids: Mapping[str, str] | None = None) -> str:
    """Return `<@U…>` for a researcher with a known Slack id, else the handle.

    Only ids shaped like Slack user ids become mentions, so a bad mapping
    cannot inject other markup.
    """
    slack_id = (slack_ids or {}).get(handle)
    if slack_id and _SLACK_USER_ID.match(slack_id):
        return f"<@{slack_id}>"
    return escape_to_fit(handle, 100)


def people(
    handles: Sequence[str], slack_ids: Mapping[str, str] | None, limit: int = 8
) -> str:
    """Return a comma-separated list of mentions, with a count of the rest."""
    shown = [mention(handle, slack_ids) for handle in handles[:limit]]
    rest = len(handles) - len(shown)
    if rest > 0:
        shown.append(f"+{rest} more")
    return ", ".join(shown)


def code_span(text: str, limit: int = 200) -> str:
    """Return user text as inline code, escaped and cut to `limit`."""
    cleaned = one_line(text).replace("`", "'")
    return f"`{escape_to_fit(cleaned, limit)}`" if cleaned else "` `"


def defuse_fences(text: str) -> str:
    """Break runs of three backticks so user text cannot end a code block."""
    return text.replace("```", "`\u200b`\u200b`")


def code_chunks(text: str, limit: int = MAX_SECTION_TEXT) -> list[str]:
    """Return escaped code blocks of at most `limit` characters holding `text`.

    Lines are split only between escaped characters, so no chunk ends in
    half of an `&amp;` entity.
    """
    budget = limit - len("```\n\n```")
    lines: list[str] = []
    for line in defuse_fences(text).split("\n"):
        lines.extend(_escaped_pieces(line, budget))
    return [f"```\n{body}\n```" for body in pack_lines(lines, budget)]


def _escaped_pieces(line: str, limit: int) -> list[str]:
    escaped = escape(line)
    if len(escaped) <= limit:
        return [escaped]
    pieces: list[str] = []
    current = ""
    for char in line:
        piece = escape(char)
        if len(current) + len(piece) > limit:
            pieces.append(current)
            current = ""
        current += piece
    pieces.append(current)
    return pieces


def pack_lines(lines: Iterable[str], limit: int = MAX_SECTION_TEXT) -> list[str]:
    """Join mrkdwn lines into texts of at most `limit` characters each.

    Each line must already be escaped; an overlong line is cut safely.
    """
    texts: list[str] = []
    current: str | None = None
    for line in lines:
        line = cut_mrkdwn(line, limit)
        if current is None:
            current = line
        elif len(current) + 1 + len(line) > limit:
            texts.append(current)
            current = line
        else:
            current = f"{current}\n{line}"
    if current is not None:
        texts.append(current)
    return texts


# -- values ----------------------------------------------------------------

STATUS_EMOJI = {
    "running": ":hourglass_flowing_sand:",
    "completed": ":white_check_mark:",
    "failed": ":x:",
    "cancelled": ":no_entry_sign:",
}


def status_text(status: str) -> str:
    """Return the status with its emoji, e.g. ":x: *Failed*"."""
    emoji = STATUS_EMOJI.get(status, ":grey_question:")
    return f"{emoji} *{escape(status.capitalize())}*"


def format_number(value: float | None) -> str:
    """Format a metric value with up to four significant decimals."""
    if value is None:
        return "–"
    if not math.isfinite(value):
        return str(value)
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    magnitude = abs(value)
    if magnitude >= 1e6 or magnitude < 1e-4:
        return f"{value:.3e}"
    return f"{value:.4g}" if magnitude < 1 else f"{value:.{_decimals(magnitude)}f}"


def _decimals(magnitude: float) -> int:
    digits = int(math.log10(magnitude)) + 1
    return max(0, 4 - digits)


def format_delta(value: float) -> str:
    sign = "+" if value > 0 else ""
    return f"{sign}{format_number(value)}"


def format_duration(seconds: float | None) -> str:
    """Format seconds as "45s", "12m 05s", "3h 20m" or "2d 4h"."""
    if seconds is None:
        return "–"
    total = int(round(max(0.0, seconds)))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def format_time(moment: dt.datetime | None) -> str:
    """Return a Slack date token that shows in the reader's time zone.

    The text after `|` is the fallback for clients that cannot format
    dates, and what `render_text` prints.
    """
    if moment is None:
        return "–"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    fallback = moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    epoch = int(moment.timestamp())
    return f"<!date^{epoch}^{{date_short_pretty}} {{time}}|{fallback}>"


def format_percent(rate: float | None) -> str:
    """Format a 0..1 rate as a percentage; "n/a" when it is undefined."""
    if rate is None:
        return "n/a"
    return f"{rate * 100:.0f}%"


# -- blocks ----------------------------------------------------------------


def mrkdwn(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=text)


def plain(text: str, limit: int = MAX_CONTEXT_TEXT) -> PlainTextObject:
    return PlainTextObject(text=truncate(text, limit), emoji=True)


def header(text: str) -> HeaderBlock:
    """Return a header of plain text, cut to the 150-character limit."""
    return HeaderBlock(text=plain(one_line(text) or " ", MAX_HEADER_TEXT))


def section(
    text: str, *, fields: Sequence[str] = (), accessory: Any = None
) -> SectionBlock:
    """Return a mrkdwn section; `text` and `fields` must already be escaped."""
    field_objects = [mrkdwn(cut_mrkdwn(f, MAX_FIELD_TEXT)) for f in fields[:MAX_FIELDS]]
    return SectionBlock(
        text=mrkdwn(cut_mrkdwn(text, MAX_SECTION_TEXT)) if text else None,
        fields=field_objects or None,
        accessory=accessory,
    )


def sections(lines: Iterable[str]) -> list[SectionBlock]:
    """Return as few sections as hold the escaped `lines` within limits."""
    return [section(text) for text in pack_lines(lines) if text.strip()]


def context(*texts: str) -> ContextBlock:
    """Return a context block of mrkdwn texts (already escaped)."""
    elements = [
        mrkdwn(cut_mrkdwn(text, MAX_CONTEXT_TEXT))
        for text in texts[:MAX_CONTEXT_ELEMENTS]
        if text
    ]
    return ContextBlock(elements=elements or [mrkdwn(" ")])


def divider() -> DividerBlock:
    return DividerBlock()


def button(
    label: str, action_id: str, value: str, *, style: str | None = None
) -> ButtonElement:
    if len(value) > MAX_BUTTON_VALUE:
        raise BlockLimitError(
            f"Button {label!r} value has {len(value)} characters; the limit is "
            f"{MAX_BUTTON_VALUE}. Shorten what the value carries."
        )
    return ButtonElement(
        text=plain(label, MAX_BUTTON_TEXT),
        action_id=action_id,
        value=value,
        style=style,
    )


def actions(*buttons: ButtonElement) -> ActionsBlock:
    return ActionsBlock(elements=list(buttons[:MAX_ACTIONS_ELEMENTS]))


def cap_blocks(
    blocks: Sequence[Block],
    max_blocks: int,
    what: str = "block",
    *,
    max_chars: int | None = None,
) -> list[Block]:
    """Keep the leading blocks that fit, then a note of how many were left out.

    Blocks fit while there are fewer than `max_blocks` and, when
    `max_chars` is given, while their text totals at most `max_chars`.
    """
    budget = max_chars
    total = sum(text_size(block) for block in blocks)
    if len(blocks) <= max_blocks and (budget is None or total <= budget):
        return list(blocks)

    note_room = 100
    kept: list[Block] = []
    used = 0
    for block in blocks[: max_blocks - 1]:
        size = text_size(block)
        if budget is not None and used + size > budget - note_room:
            break
        kept.append(block)
        used += size
    left_out = len(blocks) - len(kept)
    return [*kept, context(f"_{plural(left_out, 'more ' + what)} not shown._")]


def text_size(block: Block | Mapping[str, Any]) -> int:
    """Return the characters of text in a block, counted as Slack may count them."""
    data = block.to_dict() if isinstance(block, Block) else block
    return _text_size(data)


def _text_size(node: Any) -> int:
    if isinstance(node, Mapping):
        size = 0
        for key, value in node.items():
            if key == "text" and isinstance(value, str):
                size += len(value)
            else:
                size += _text_size(value)
        return size
    if isinstance(node, list):
        return sum(_text_size(item) for item in node)
    return 0


def paginate(
    blocks: Sequence[Block], max_blocks: int = MAX_MESSAGE_BLOCKS
) -> list[list[Block]]:
    """Split blocks into messages of at most `max_blocks` each."""
    return [
        list(blocks[i : i + max_blocks]) for i in range(0, len(blocks), max_blocks)
    ] or [[]]


# -- the guard -------------------------------------------------------------


def check_blocks(
    blocks: Sequence[Block],
    *,
    max_blocks: int = MAX_MESSAGE_BLOCKS,
    max_chars: int | None = None,
) -> list[Block]:
    """Return `blocks` unchanged, or raise BlockLimitError naming the limit.

    Checks what Slack checks on a message: the block count, section text
    and fields, header text, context elements, and button text and value.
    With `max_chars`, also the text of all blocks together.
    """
    if len(blocks) > max_blocks:
        raise BlockLimitError(
            f"{len(blocks)} blocks in one message; the limit is {max_blocks}. "
            "Split them with paginate()."
        )
    total = 0
    for index, block in enumerate(blocks):
        try:
            data = block.to_dict()
        except SlackObjectFormationError as exc:
            raise BlockLimitError(f"block {index}: {exc}") from exc
        problems = block_problems(data)
        if problems:
            raise BlockLimitError(f"block {index}: {'; '.join(problems)}")
        total += _text_size(data)
    if max_chars is not None and total > max_chars:
        raise BlockLimitError(
            f"The blocks hold {total} characters of text; the budget is "
            f"{max_chars}. Cut them with cap_blocks(max_chars=...)."
        )
    return list(blocks)


def block_problems(data: Mapping[str, Any]) -> list[str]:
    """Return the limits that one serialised block breaks; empty if none."""
    kind = data.get("type")
    problems: list[str] = []
    if kind == "section":
        problems += _too_long(_text(data.get("text")), MAX_SECTION_TEXT, "text")
        fields = data.get("fields") or []
        if len(fields) > MAX_FIELDS:
            problems.append(f"{len(fields)} fields; the limit is {MAX_FIELDS}")
        for item in fields:
            problems += _too_long(_text(item), MAX_FIELD_TEXT, "field")
        accessory = data.get("accessory")
        if isinstance(accessory, Mapping):
            problems += _element_problems(accessory)
    elif kind == "header":
        problems += _too_long(_text(data.get("text")), MAX_HEADER_TEXT, "header")
    elif kind == "context":
        elements = data.get("elements") or []
        if len(elements) > MAX_CONTEXT_ELEMENTS:
            problems.append(f"{len(elements)} context elements")
        for element in elements:
            problems += _too_long(_text(element), MAX_CONTEXT_TEXT, "context text")
    elif kind == "actions":
        for element in data.get("elements") or []:
            problems += _element_problems(element)
    return problems


def _element_problems(element: Mapping[str, Any]) -> list[str]:
    if element.get("type") != "button":
        return []
    problems = _too_long(_text(element.get("text")), MAX_BUTTON_TEXT, "button text")
    problems += _too_long(element.get("value"), MAX_BUTTON_VALUE, "button value")
    return problems


def _text(obj: Any) -> Any:
    return obj.get("text") if isinstance(obj, Mapping) else None


def _too_long(value: Any, limit: int, what: str) -> list[str]:
    if isinstance(value, str) and len(value) > limit:
        return [f"{what} has {len(value)} characters; the limit is {limit}"]
    return []
