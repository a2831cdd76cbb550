"""The team dashboard: totals, per-project progress, durations, best runs."""

from __future__ import annotations

from collections.abc import Mapping

from slack_sdk.models.blocks import Block

from bot.views.blocks import (
    MAX_MESSAGE_BLOCKS,
    MAX_MESSAGE_CHARS,
    cap_blocks,
    check_blocks,
    code_span,
    context,
    divider,
    escape_to_fit,
    format_duration,
    format_number,
    format_percent,
    format_time,
    header,
    mention,
    one_line,
    section,
    sections,
)
from tracker.grammar import plural
from tracker.records import ProjectProgress, Summary

MAX_PROJECTS = 25
TOP_PEOPLE = 5
TOP_TAGS = 8
BAR_CELLS = 10


def summary_blocks(
    summary: Summary,
    *,
    slack_ids: Mapping[str, str] | None = None,
    max_blocks: int = MAX_MESSAGE_BLOCKS,
    max_chars: int = MAX_MESSAGE_CHARS,
    notice: str = "",
) -> list[Block]:
    """Build the dashboard for a `Summary` within `max_blocks` and `max_chars`.

    The completion rate shows "n/a" while no experiment has ended, since
    it is completed over completed + failed + cancelled. `notice` (mrkdwn)
    is a context line under an empty summary, such as a warning about the
    team's name.
    """
    scope = f"team {summary.team}" if summary.team else "all teams"
    blocks: list[Block] = [header(f"Summary: {scope}")]
    if summary.total == 0:
        blocks.append(
            section(
                "No experiments yet. Track one with `expbot track NAME`, "
                "or from a script with `tracker.run(...)`."
            )
        )
        if notice:
            blocks.append(context(notice))
        return check_blocks(blocks, max_blocks=max_blocks, max_chars=max_chars)

    blocks.append(section(_totals_line(summary), fields=_total_fields(summary)))
    if summary.projects:
        blocks.append(divider())
        blocks.extend(sections(_project_lines(summary.projects)))
    if summary.best:
        blocks.extend(sections(_best_lines(summary)))
    if summary.latest_completed:
        blocks.extend(sections(_latest_lines(summary, slack_ids)))
    footer = _footer(summary, slack_ids)
    if footer:
        blocks.append(context(footer))
    capped = cap_blocks(blocks, max_blocks, "section", max_chars=max_chars)
    return check_blocks(capped, max_blocks=max_blocks, max_chars=max_chars)


def _totals_line(summary: Summary) -> str:
    return f"*{plural(summary.total, 'experiment')}*"


def _total_fields(summary: Summary) -> list[str]:
    counts = summary.by_status
    rate = format_percent(summary.completion_rate)
    if summary.completion_rate is None:
        rate += " (none has ended)"
    return [
        f":hourglass_flowing_sand: *Running*\n{counts.get('running', 0)}",
        f":white_check_mark: *Completed*\n{counts.get('completed', 0)}",
        f":x: *Failed*\n{counts.get('failed', 0)}",
        f":no_entry_sign: *Cancelled*\n{counts.get('cancelled', 0)}",
        f"*Completion rate*\n{rate}",
        f"*Mean / median duration*\n{format_duration(summary.mean_duration_seconds)}"
        f" / {format_duration(summary.median_duration_seconds)}",
    ]


def _project_lines(projects: list[ProjectProgress]) -> list[str]:
    lines = ["*Projects*"]
    for project in projects[:MAX_PROJECTS]:
        name = escape_to_fit(one_line(project.project), 80) or "_no project_"
        lines.append(
            f"*{name}*  {progress_bar(project.completed, project.total)}  "
            f"{project.completed}/{project.total} completed · "
            f"{project.running} running · {project.failed} failed · "
            f"{project.cancelled} cancelled"
        )
    rest = len(projects) - MAX_PROJECTS
    if rest > 0:
        lines.append(f"_+{plural(rest, 'more project')}_")
    return lines


def progress_bar(done: int, total: int) -> str:
    """Return a 10-cell bar of done/total in inline code, e.g. `▓▓▓░░░░░░░`."""
    filled = round(BAR_CELLS * done / total) if total > 0 else 0
    return "`" + "▓" * filled + "░" * (BAR_CELLS - filled) + "`"


def _best_lines(summary: Summary) -> list[str]:
    lines = ["*Best per metric*"]
    for best in summary.best:
        arrow = "↓ lower is better" if best.direction == "min" else "↑ higher is better"
        lines.append(
            f"{code_span(best.metric, 80)} *{format_number(best.value)}*  "
            f"{escape_to_fit(one_line(best.experiment_name), 80)} "
            f"`{best.experiment_id[:8]}`  _{arrow}_"
        )
    return lines


def _latest_lines(summary: Summary, slack_ids: Mapping[str, str] | None) -> list[str]:
    lines = ["*Latest completed*"]
    for record in summary.latest_completed:
        lines.append(
            f"{escape_to_fit(one_line(record.name), 80)} `{record.short_id}` · "
            f"{mention(record.researcher, slack_ids)} · {format_time(record.ended_at)}"
        )
    return lines


def _footer(summary: Summary, slack_ids: Mapping[str, str] | None) -> str:
    parts = []
    if summary.researchers:
        ranked = sorted(summary.researchers.items(), key=lambda item: -item[1])
        shown = ", ".join(
            f"{mention(handle, slack_ids)} {count}"
            for handle, count in ranked[:TOP_PEOPLE]
        )
        parts.append(f"Most active: {shown}")
    if summary.tags:
        ranked = sorted(summary.tags.items(), key=lambda item: -item[1])
        shown = ", ".join(
            f"{escape_to_fit(tag, 64)} {count}" for tag, count in ranked[:TOP_TAGS]
        )
        parts.append(f"Top tags: {shown}")
    return " · ".join(parts)
