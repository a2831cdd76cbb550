"""Block Kit as readable plain text, for `expbot shell` and fallback text.

Slack markup becomes what a reader would see: `<@U1>` turns into `@U1`,
links into `label (url)`, date tokens into their fallback text, entities
into `&`, `<` and `>`, and the emoji shortcodes the bot uses into characters.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from slack_sdk.models.basic_objects import JsonObject

FIELD_COLUMN = 40
DIVIDER = "-" * 40

# Every emoji shortcode the bot's replies and views use, as characters.
EMOJI = {
    "bar_chart": "📊",
    "bell": "🔔",
    "busts_in_silhouette": "👥",
    "calendar": "📅",
    "dart": "🎯",
    "first_place_medal": "🥇",
    "grey_question": "❔",
    "handshake": "🤝",
    "hourglass_flowing_sand": "⏳",
    "label": "🏷",
    "link": "🔗",
    "lock": "🔒",
    "mag": "🔍",
    "memo": "📝",
    "no_bell": "🔕",
    "no_entry": "⛔",
    "no_entry_sign": "🚫",
    "question": "❓",
    "rocket": "🚀",
    "second_place_medal": "🥈",
    "straight_ruler": "📏",
    "third_place_medal": "🥉",
    "trophy": "🏆",
    "warning": "⚠",
    "wave": "👋",
    "white_check_mark": "✅",
    "x": "❌",
}

_ANGLE = re.compile(r"<([^<>\n]*)>")
_EMOJI = re.compile(r":([a-z0-9_+-]+):")
_BOLD = re.compile(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])")
_ITALIC = re.compile(r"(?<![\w])_([^_\n]+)_(?![\w])")
_FENCE = "```"


def render_text(blocks: Sequence[Any] | JsonObject | Mapping[str, Any]) -> str:
    """Render blocks, or a view with its title, as plain text lines."""
    data = _as_dict(blocks) if not isinstance(blocks, Sequence) else None
    lines: list[str] = []
    if data is not None:
        title = (data.get("title") or {}).get("text")
        if title:
            lines += [title, "=" * len(title)]
        items: Sequence[Any] = data.get("blocks") or []
    else:
        items = blocks  # type: ignore[assignment]
    for block in items:
        lines.extend(render_block(_as_dict(block)))
    return "\n".join(lines).strip("\n")


def render_block(block: Mapping[str, Any]) -> list[str]:
    """Render one serialised block as lines of plain text."""
    kind = block.get("type")
    if kind == "header":
        title = _plain(block.get("text"))
        return ["", title, "=" * len(title)]
    if kind == "section":
        return _section_lines(block)
    if kind == "context":
        parts = [_text_of(element) for element in block.get("elements") or []]
        return [line for part in parts if part for line in part.split("\n")]
    if kind == "divider":
        return [DIVIDER]
    if kind == "actions":
        labels = [_element_label(e) for e in block.get("elements") or []]
        return [" ".join(label for label in labels if label)]
    if kind == "input":
        label = _plain(block.get("label"))
        return [f"{label}: {_element_label(block.get('element') or {})}"]
    if kind == "image":
        return [f"[image: {block.get('alt_text', '')}]"]
    return [f"[{kind} block]"]


def to_plain(text: str) -> str:
    """Turn mrkdwn into plain text; code blocks keep their spacing."""
    out: list[str] = []
    for index, part in enumerate(text.split(_FENCE)):
        if index % 2 == 1:
            code = _unescape(part.strip("\n"))
            out.append("\n".join("    " + line for line in code.split("\n")))
        else:
            out.append(_inline_plain(part))
    return "\n".join(piece.strip("\n") for piece in out if piece.strip("\n"))


def _inline_plain(text: str) -> str:
    text = _ANGLE.sub(lambda match: _control(match.group(1)), text)
    text = _EMOJI.sub(lambda match: EMOJI.get(match.group(1), match.group(0)), text)
    text = _BOLD.sub(r"\1", text)
    text = _ITALIC.sub(r"\1", text)
    # A raw ">" can only start a quote, since user text arrives escaped.
    lines = [
        f"  | {line[1:]}" if line.startswith(">") else line for line in text.split("\n")
    ]
    return _unescape("\n".join(lines))


def _control(inner: str) -> str:
    """Return what Slack shows for one `<...>` control sequence."""
    target, _, label = inner.partition("|")
    if target.startswith("!date^"):
        return label or target
    if target.startswith("@"):
        return f"@{label}" if label else target
    if target.startswith("#"):
        return f"#{label}" if label else target
    if target.startswith("!subteam^"):
        return label or "@group"
    if target.startswith("!"):
        return f"@{target[1:]}"
    return f"{label} ({target})" if label else target


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _section_lines(block: Mapping[str, Any]) -> list[str]:
    lines: list[str] = []
    text = _text_of(block.get("text"))
    if text:
        lines += text.split("\n")
    fields = [_field_line(_text_of(item)) for item in block.get("fields") or []]
    lines += _field_rows(fields)
    accessory = block.get("accessory")
    if isinstance(accessory, Mapping):
        label = _element_label(accessory)
        if label and lines:
            lines[0] = f"{lines[0]}  {label}"
        elif label:
            lines.append(label)
    return lines


def _field_line(text: str) -> str:
    title, _, value = text.partition("\n")
    if not value:
        return title
    return f"{title}: {' '.join(value.split())}"


def _field_rows(fields: list[str]) -> list[str]:
    """Lay fields out in pairs, two columns wide, unless the left one is too long."""
    rows = []
    for index in range(0, len(fields), 2):
        pair = fields[index : index + 2]
        if len(pair) == 2 and len(pair[0]) <= FIELD_COLUMN:
            rows.append(f"{pair[0].ljust(FIELD_COLUMN)}  {pair[1]}")
        else:
            rows.extend(pair)
    return rows


def _element_label(element: Mapping[str, Any]) -> str:
    kind = element.get("type")
    if kind == "button":
        return f"[{_plain(element.get('text'))}]"
    placeholder = _plain(element.get("placeholder"))
    return f"<{placeholder or kind}>"


def _text_of(obj: Any) -> str:
    if not isinstance(obj, Mapping):
        return ""
    text = str(obj.get("text") or "")
    if obj.get("type") == "mrkdwn":
        return to_plain(text)
    return text


def _plain(obj: Any) -> str:
    return str(obj.get("text") or "") if isinstance(obj, Mapping) else ""


def _as_dict(item: Any) -> Mapping[str, Any]:
    if isinstance(item, JsonObject):
        return item.to_dict()
    if isinstance(item, Mapping):
        return item
    raise TypeError(f"cannot render {type(item).__name__} as Block Kit")
