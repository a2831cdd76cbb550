"""Text forms of a team report: figure formatting, Markdown and JSON.

The formatting helpers are shared with the Slack view, so a figure reads
the same ("12 (+3)", "70% (+5 pp)", "n/a") in every place it appears.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from tracker.directions import MINIMIZE
from tracker.grammar import plural
from tracker.reports import (
    COUNT,
    RATIO,
    SECONDS,
    Figure,
    GroupCounts,
    MetricBest,
    TeamReport,
)

UNDEFINED = "n/a"
# Figures in the order they are shown, in groups with a heading.
FIGURE_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "Activity",
        ("created", "completed", "failed", "cancelled", "running", "researchers"),
    ),
    ("Outcomes", ("completion_rate", "median_duration", "mean_duration")),
    ("Collaboration", ("shared", "collaborators_per_experiment")),
    (
        "Coverage",
        ("git_commit_coverage", "clean_tree_coverage", "documentation_coverage"),
    ),
)
NO_PROJECT = "(no project)"


def format_value(figure: Figure) -> str:
    return _format(figure.unit, figure.value)


def format_change(figure: Figure) -> str:
    """Return the change against the previous period, e.g. "+3" or "-5 pp".

    Returns "" when either period's value is undefined.
    """
    change = figure.change
    if change is None:
        return ""
    if figure.unit == COUNT:
        return f"{round(change):+d}" if round(change) else "±0"
    if figure.unit == RATIO:
        points = round(change * 100)
        return f"{points:+d} pp" if points else "±0 pp"
    if figure.unit == SECONDS:
        if round(change) == 0:
            return "±0"
        sign = "+" if change > 0 else "-"
        return sign + format_duration(abs(change))
    rounded = round(change, 2)
    return f"{rounded:+g}" if rounded else "±0"


def format_figure(figure: Figure) -> str:
    """Return the value and its change, e.g. "12 (+3)" or "n/a"."""
    change = format_change(figure)
    value = format_value(figure)
    return f"{value} ({change})" if change else value


def ended_counts(report: TeamReport) -> str:
    """Return what the completion rate divides, e.g. "17 of 22 ended"."""
    completed = round(report.value("completed") or 0)
    ended = completed + round(report.value("failed") or 0)
    ended += round(report.value("cancelled") or 0)
    return f"{completed} of {ended} ended" if ended else "none ended"


def format_completion(report: TeamReport) -> str:
    """Return the completion rate with its counts and change.

    For example "77% (17 of 22 ended, +5 pp)", or "n/a (none ended)".
    """
    figure = report.figure("completion_rate")
    change = format_change(figure)
    detail = ended_counts(report) + (f", {change}" if change else "")
    return f"{format_value(figure)} ({detail})"


def format_duration(seconds: float) -> str:
    """Return a duration in its two largest units, e.g. "2d 3h" or "45s"."""
    total = round(seconds)
    if total < 60:
        return f"{total}s"
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    return f"{minutes}m"


def format_metric(value: float) -> str:
    return f"{value:.4g}"


def direction_text(direction: str) -> str:
    return "lower is better" if direction == MINIMIZE else "higher is better"


def report_kind(report: TeamReport) -> str:
    return "Monthly" if report.period.kind == "month" else "Weekly"


def title(report: TeamReport) -> str:
    return f"{report_kind(report)} report: {report.team}, {report.period.title}"


def scope_line(report: TeamReport) -> str:
    """Return the dates, zone and comparison period, and "so far" if not over."""
    period = report.period
    line = (
        f"{period.span} ({period.timezone}), compared with "
        f"{report.previous_period.title}"
    )
    if not report.complete:
        line += f". So far: up to {report.as_of:%Y-%m-%d %H:%M} UTC"
    return line


def headline(report: TeamReport) -> str:
    """Return a one-line summary, used as the message's fallback text."""
    created = report.figure("created")
    count = format_value(created)
    noun = "experiment" if count == "1" else "experiments"
    change = format_change(created)
    rate = format_figure(report.figure("completion_rate"))
    failed = format_value(report.figure("failed"))
    return (
        f"{title(report)}: {count} {noun} created"
        + (f" ({change})" if change else "")
        + f", completion rate {rate}, {failed} failed."
    )


def group_name(group: GroupCounts) -> str:
    return group.name or NO_PROJECT


def to_json(report: TeamReport) -> str:
    return json.dumps(report.to_dict(), indent=2)


def to_markdown(report: TeamReport) -> str:
    lines = [f"# {title(report)}", "", scope_line(report) + ".", ""]
    lines += _markdown_figures(report)
    lines += _markdown_best(report.best)
    lines += _markdown_groups("Projects", "Project", report.projects)
    lines += _markdown_groups("Researchers", "Researcher", report.researchers)
    lines += _markdown_failures(report)
    return "\n".join(lines).rstrip() + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _markdown_figures(report: TeamReport) -> list[str]:
    lines = ["## Figures", "", "| Figure | Value | Change |", "|---|---:|---:|"]
    for _heading, keys in FIGURE_GROUPS:
        for key in keys:
            figure = report.figure(key)
            change = format_change(figure) or "-"
            value = format_value(figure)
            if key == "completion_rate":
                value += f" ({ended_counts(report)})"
            lines.append(f"| {figure.label} | {value} | {change} |")
    return [*lines, ""]


def _markdown_best(best: Iterable[MetricBest]) -> list[str]:
    lines = ["## Best results", ""]
    found = False
    for metric in best:
        found = True
        lines.append(f"### {metric.metric} ({direction_text(metric.direction)})")
        lines.append("")
        for leader in metric.leaders:
            lines.append(
                f"{leader.rank}. {format_metric(leader.value)}: {_cell(leader.name)} "
                f"(`{leader.experiment_id[:8]}`) by {leader.researcher}"
            )
        lines.append("")
    if not found:
        lines += ["No completed experiment reported a metric.", ""]
    return lines


def _markdown_groups(
    heading: str, column: str, groups: Iterable[GroupCounts]
) -> list[str]:
    rows = [
        f"| {_cell(group_name(g))} | {g.created} | {g.completed} | {g.failed} "
        f"| {g.cancelled} | {g.running} |"
        for g in groups
    ]
    if not rows:
        return [f"## {heading}", "", "None.", ""]
    header = f"| {column} | Created | Completed | Failed | Cancelled | Running |"
    return [f"## {heading}", "", header, "|---|---:|---:|---:|---:|---:|", *rows, ""]


def _markdown_failures(report: TeamReport) -> list[str]:
    lines = ["## Failures", ""]
    for failure in report.failures:
        reason = _cell(failure.reason) or "no reason given"
        lines.append(
            f"- `{failure.experiment_id[:8]}` {_cell(failure.name)} "
            f"({failure.researcher}, {failure.ended_at:%Y-%m-%d}): {reason}"
        )
    hidden = report.failures_total - len(report.failures)
    if report.failures and hidden > 0:
        lines.append(f"- and {hidden} more")
    elif hidden > 0:
        # Named lists leave private experiments out, so every failure here
        # is a private one.
        lines.append(private_failures(hidden))
    else:
        lines.append("None.")
    return [*lines, ""]


def private_failures(count: int) -> str:
    """Describe failures that the report counts but does not name."""
    return f"{plural(count, 'failure')} in private experiments, not listed."


def _format(unit: str, value: float | None) -> str:
    if value is None:
        return UNDEFINED
    if unit == COUNT:
        return str(round(value))
    if unit == RATIO:
        percent = value * 100
        # 199 of 200 must not read as 100%, nor 1 of 1000 as 0%.
        if 0 < value < 1 and round(percent) in (0, 100):
            return f"{min(max(percent, 0.1), 99.9):.1f}%"
        return f"{percent:.0f}%"
    if unit == SECONDS:
        return format_duration(value)
    return f"{value:.2f}".rstrip("0").rstrip(".")
