"""Block Kit for a team report: figures with changes, best runs, failures.

The charts are not blocks: delivery uploads them as files in the report
message's thread. Every figure is formatted by `tracker.report_render`,
so the message, the Markdown and the CLI agree on "12 (+3)" and "n/a".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from slack_sdk.models.blocks import Block

from bot.views.blocks import (
    ACTION_SHOW,
    MAX_MESSAGE_BLOCKS,
    STATUS_EMOJI,
    button,
    cap_blocks,
    check_blocks,
    context,
    divider,
    escape,
    escape_to_fit,
    header,
    mention,
    one_line,
    section,
    sections,
)
from tracker.report_render import (
    FIGURE_GROUPS,
    direction_text,
    format_completion,
    format_figure,
    format_metric,
    group_name,
    private_failures,
    scope_line,
    title,
)
from tracker.reports import Figure, GroupCounts, MetricBest, TeamReport

MAX_LEADERS_SHOWN = 3
MAX_GROUPS_SHOWN = 10
MAX_FAILURE_CARDS = 5
MAX_FAILURES_LISTED = 15
MAX_REASON_CHARS = 200
MAX_NAME_CHARS = 80
_FIGURE_HEADINGS = {
    "Activity": ":bar_chart: *Activity*",
    "Outcomes": ":dart: *Outcomes*",
    "Collaboration": ":busts_in_silhouette: *Collaboration*",
    "Coverage": ":mag: *Reproducibility and documentation*",
}


def report_blocks(
    report: TeamReport,
    *,
    slack_ids: Mapping[str, str] | None = None,
    footer: str = "",
    max_blocks: int = MAX_MESSAGE_BLOCKS,
) -> list[Block]:
    """Build the report message in at most `max_blocks` blocks.

    `slack_ids` maps researcher handles to Slack user ids. A researcher
    without one is shown by handle and not mentioned. `footer` is mrkdwn
    for a last context line, e.g. where the charts are.
    """
    blocks: list[Block] = [header(title(report)), context(escape(scope_line(report)))]
    if _is_empty(report):
        blocks.append(
            section(
                f"No experiments were created, ended or running for team "
                f"*{escape_to_fit(report.team, 100)}* in this period. Record one "
                "with `expbot track NAME --team TEAM`."
            )
        )
        return check_blocks(blocks, max_blocks=max_blocks)

    for heading, keys in FIGURE_GROUPS:
        fields = [_figure_field(report, report.figure(key)) for key in keys]
        blocks.append(section(_FIGURE_HEADINGS[heading], fields=fields))
    blocks.append(divider())
    blocks.extend(_best_blocks(report.best, slack_ids))
    blocks.extend(_group_blocks("*Projects*", report.projects, _project_name))
    blocks.extend(
        _group_blocks(
            "*Researchers*",
            report.researchers,
            lambda group: mention(group.name, slack_ids),
        )
    )
    blocks.extend(_failure_blocks(report, slack_ids))
    if footer:
        blocks.append(context(footer))
    return check_blocks(cap_blocks(blocks, max_blocks), max_blocks=max_blocks)


def _is_empty(report: TeamReport) -> bool:
    keys = ("created", "completed", "failed", "cancelled", "running")
    return not any(report.value(key) for key in keys)


def _figure_field(report: TeamReport, figure: Figure) -> str:
    emoji = STATUS_EMOJI.get(figure.key, "")
    label = f"{emoji} *{figure.label}*" if emoji else f"*{figure.label}*"
    if figure.key == "completion_rate":
        return f"{label}\n{format_completion(report)}"
    return f"{label}\n{format_figure(figure)}"


def _best_blocks(
    best: Sequence[MetricBest], slack_ids: Mapping[str, str] | None
) -> list[Block]:
    if not best:
        return [
            section(
                ":trophy: *Best results*\nNo completed experiment reported a metric."
            )
        ]
    blocks: list[Block] = [section(":trophy: *Best results* (completed in the period)")]
    for metric in best:
        name = escape_to_fit(metric.metric, 100)
        lines = [f"*{name}* _{direction_text(metric.direction)}_"]
        for leader in metric.leaders[:MAX_LEADERS_SHOWN]:
            lines.append(
                f"{leader.rank}. *{format_metric(leader.value)}*  "
                f"{escape_to_fit(one_line(leader.name), MAX_NAME_CHARS)} "
                f"`{leader.experiment_id[:8]}` · "
                f"{mention(leader.researcher, slack_ids)}"
            )
        top = metric.leaders[0]
        blocks.append(
            section(
                "\n".join(lines),
                accessory=button("Show", ACTION_SHOW, top.experiment_id),
            )
        )
    return blocks


def _project_name(group: GroupCounts) -> str:
    return f"*{escape_to_fit(group_name(group), MAX_NAME_CHARS)}*"


def _group_blocks(
    heading: str,
    groups: Sequence[GroupCounts],
    name_of: Callable[[GroupCounts], str],
) -> list[Block]:
    if not groups:
        return []
    lines = [heading]
    for group in groups[:MAX_GROUPS_SHOWN]:
        lines.append(
            f"{name_of(group)}: {group.created} created · "
            f"{group.completed} completed · {group.failed} failed · "
            f"{group.cancelled} cancelled · "
            f"{group.running} running"
        )
    rest = len(groups) - MAX_GROUPS_SHOWN
    if rest > 0:
        lines.append(f"_and {rest} more_")
    return list(sections(lines))


def _failure_line(failure_name: str, researcher: str, reason: str) -> str:
    reason_text = (
        escape_to_fit(one_line(reason), MAX_REASON_CHARS) or "_no reason given_"
    )
    return f"{failure_name} · {researcher}\n> {reason_text}"


def _failure_blocks(
    report: TeamReport, slack_ids: Mapping[str, str] | None
) -> list[Block]:
    if not report.failures_total:
        return []
    blocks: list[Block] = [
        divider(),
        section(f":x: *Failures* ({report.failures_total})"),
    ]
    if not report.failures:
        return [*blocks, context(f"_{private_failures(report.failures_total)}_")]
    rest_lines: list[str] = []
    for index, failure in enumerate(report.failures[:MAX_FAILURES_LISTED]):
        name = (
            f"*{escape_to_fit(one_line(failure.name), MAX_NAME_CHARS)}* "
            f"`{failure.experiment_id[:8]}`"
        )
        line = _failure_line(
            name, mention(failure.researcher, slack_ids), failure.reason
        )
        if index < MAX_FAILURE_CARDS:
            show = button("Show", ACTION_SHOW, failure.experiment_id)
            blocks.append(section(line, accessory=show))
        else:
            rest_lines.append(line)
    hidden = report.failures_total - min(len(report.failures), MAX_FAILURES_LISTED)
    if hidden > 0:
        rest_lines.append(f"_and {hidden} more_")
    blocks.extend(sections(rest_lines))
    return blocks
