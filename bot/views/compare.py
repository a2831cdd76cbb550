"""Experiments side by side: metrics with deltas, and the config keys that differ."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from slack_sdk.models.blocks import Block

from bot.views.blocks import (
    MAX_MESSAGE_BLOCKS,
    MAX_MESSAGE_CHARS,
    MAX_SECTION_TEXT,
    check_blocks,
    context,
    defuse_fences,
    escape,
    escape_to_fit,
    format_delta,
    format_number,
    header,
    mention,
    one_line,
    pack_lines,
    section,
    status_text,
    text_size,
    truncate,
)
from tracker.grammar import plural
from tracker.records import Comparison, ExperimentRecord, MetricComparison

KEY_WIDTH = 32
CELL_WIDTH = 20
BEST_MARK = "★"
# Experiments are labelled A, B, C... so that table columns stay narrow.
LABELS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def comparison_blocks(
    comparison: Comparison,
    *,
    slack_ids: Mapping[str, str] | None = None,
    max_blocks: int = MAX_MESSAGE_BLOCKS,
    max_chars: int = MAX_MESSAGE_CHARS,
) -> list[Block]:
    """Build metrics side by side and the differing config keys.

    Deltas are against the first experiment (A), and ★ marks the best
    value of each metric by its direction. Rows that do not fit in
    `max_blocks` and `max_chars` are counted in a note.
    """
    experiments = comparison.experiments[: len(LABELS)]
    labels = {record.id: LABELS[i] for i, record in enumerate(experiments)}
    blocks: list[Block] = [
        header(f"Comparing {len(experiments)} experiments"),
        section(_legend(experiments, slack_ids)),
        section("*Metrics*  _Δ against A, ★ best_"),
    ]

    # Metrics come first and may take up to half the message, because the
    # config table is the longer one and fills what is left.
    if comparison.metrics:
        chunks = _metric_chunks(comparison.metrics, experiments, labels)
        room = _room(blocks, max_blocks // 2, max_chars // 2)
        blocks.extend(_fit(chunks, room, len(comparison.metrics), "metrics"))
    else:
        blocks.append(context("No metrics logged on these experiments."))

    differences = comparison.config_differences
    counted = plural(len(differences), "key")
    blocks.append(section(f"*Config differences*  _{counted}_"))
    if differences:
        chunks = _config_chunks(differences, experiments)
        room = _room(blocks, max_blocks, max_chars)
        blocks.extend(_fit(chunks, room, len(differences), "differing keys"))
    else:
        blocks.append(context("The configs are identical."))
    return check_blocks(blocks, max_blocks=max_blocks, max_chars=max_chars)


def _room(blocks: Sequence[Block], max_blocks: int, max_chars: int) -> tuple[int, int]:
    """Return the blocks and characters left after `blocks`."""
    used = sum(text_size(block) for block in blocks)
    return max_blocks - len(blocks), max_chars - used


def _fit(
    chunks: Sequence[tuple[str, int]], room: tuple[int, int], total: int, what: str
) -> list[Block]:
    """Return the table sections that fit in `room`, noting rows left out."""
    room_blocks, room_chars = room
    if len(chunks) <= room_blocks and sum(len(t) for t, _ in chunks) <= room_chars:
        return [section(text) for text, _ in chunks]

    note_chars = 120
    kept: list[tuple[str, int]] = []
    used = 0
    for text, count in chunks:
        if len(kept) + 2 > room_blocks or used + len(text) + note_chars > room_chars:
            break
        kept.append((text, count))
        used += len(text)
    shown = sum(count for _, count in kept)
    note = context(
        f"{shown} of {total} {what} shown. "
        "Run `expbot compare ID ID --json` for all of them."
    )
    return [*(section(text) for text, _ in kept), note]


def _legend(
    experiments: Sequence[ExperimentRecord], slack_ids: Mapping[str, str] | None
) -> str:
    lines = []
    for label, record in zip(LABELS, experiments, strict=False):
        lines.append(
            f"*{label}*  {status_text(record.status)}  "
            f"{escape_to_fit(one_line(record.name), 100)} `{record.short_id}` · "
            f"{mention(record.researcher, slack_ids)}"
        )
    return "\n".join(lines)


def _metric_chunks(
    metrics: Sequence[MetricComparison],
    experiments: Sequence[ExperimentRecord],
    labels: Mapping[str, str],
) -> list[tuple[str, int]]:
    columns = ["metric", *(labels[r.id] for r in experiments)]
    rows = []
    for metric in metrics:
        arrow = "↓" if metric.direction == "min" else "↑"
        baseline = metric.values.get(experiments[0].id)
        cells = [f"{metric.metric} {arrow}"]
        for record in experiments:
            cells.append(_metric_cell(metric, record.id, baseline))
        rows.append(cells)
    return table_chunks(columns, rows)


def _metric_cell(
    metric: MetricComparison, experiment_id: str, baseline: float | None
) -> str:
    value = metric.values.get(experiment_id)
    if value is None:
        return "–"
    cell = format_number(value)
    if baseline is not None and value != baseline:
        cell += f" ({format_delta(value - baseline)})"
    if metric.best_id == experiment_id:
        cell += f" {BEST_MARK}"
    return cell


def _config_chunks(
    differences: Mapping[str, Mapping[str, Any]],
    experiments: Sequence[ExperimentRecord],
) -> list[tuple[str, int]]:
    columns = ["key", *(LABELS[i] for i in range(len(experiments)))]
    rows = [
        [key, *(_config_cell(values, record.id) for record in experiments)]
        for key, values in differences.items()
    ]
    return table_chunks(columns, rows)


def _config_cell(values: Mapping[str, Any], experiment_id: str) -> str:
    if experiment_id not in values or values[experiment_id] is None:
        return "–"
    value = values[experiment_id]
    if isinstance(value, str):
        return one_line(value)
    # Configs show exact values (3e-05, not 3.000e-05) as they were set.
    return json.dumps(value, sort_keys=True)


def table_chunks(
    columns: Sequence[str], rows: Sequence[Sequence[str]]
) -> list[tuple[str, int]]:
    """Return (code block, row count) pairs; each block repeats the header.

    The first column is cut to 32 characters and the others to 20, so that
    a row of up to 11 columns stays on one line in most Slack windows.
    """
    widths = _widths(columns, rows)
    head = escape(_row_text(columns, widths))
    rule = "-" * min(len(head), 120)
    budget = MAX_SECTION_TEXT - len(f"```\n{head}\n{rule}\n\n```")
    lines = [escape(defuse_fences(_row_text(row, widths))) for row in rows]
    chunks = []
    for body in pack_lines(lines, budget):
        count = body.count("\n") + 1
        chunks.append((f"```\n{head}\n{rule}\n{body}\n```", count))
    return chunks


def _widths(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> list[int]:
    widths = []
    for index, title in enumerate(columns):
        limit = KEY_WIDTH if index == 0 else CELL_WIDTH
        longest = max([len(title), *(len(one_line(row[index])) for row in rows)])
        widths.append(min(longest, limit))
    return widths


def _row_text(cells: Sequence[str], widths: Sequence[int]) -> str:
    padded = [
        truncate(one_line(cell), width).ljust(width)
        for cell, width in zip(cells, widths, strict=True)
    ]
    return "  ".join(padded).rstrip()
