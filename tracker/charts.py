"""PNG charts for team reports, drawn with matplotlib's Agg backend.

Charts are built on `matplotlib.figure.Figure` objects and never through
pyplot, because pyplot keeps global state that is not thread-safe and the
scheduler renders reports on worker threads. `matplotlib.use("Agg")`
still runs first, so that nothing this process imports later can pick a
display backend.
"""

from __future__ import annotations

import io
from typing import Any, Literal

import matplotlib

matplotlib.use("Agg")

from matplotlib.axes import Axes  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from tracker.report_render import direction_text, format_metric  # noqa: E402
from tracker.reports import TeamReport  # noqa: E402

# One look for every chart: 1200 x 600 px, large labels, status colours
# that match the emoji the Slack view uses.
STYLE: dict[str, Any] = {
    "size_inches": (12, 6),
    "dpi": 100,
    "font_size": 13,
    "title_size": 17,
    "text": "#1d1c1d",
    "muted": "#616061",
    "grid": "#dddddd",
    "background": "#ffffff",
    "status_colors": {
        "completed": "#2eb67d",
        "failed": "#e01e5a",
        "cancelled": "#9e9ea6",
        "running": "#36c5f0",
    },
    "bar_color": "#4a154b",
    "best_color": "#ecb22e",
}
STATUS_ORDER = ("completed", "failed", "cancelled", "running")
MAX_LABEL_CHARS = 28
MAX_CHART_METRICS = 4

# Margins as fractions of the 1200 x 600 px figure. They are fixed
# because matplotlib's constrained layout measures every text element on
# each draw, and the benchmark's monthly charts took 1.5 times as much CPU
# with it (matplotlib 3.11). The margins leave room for a two-line title
# at the top and, in the status chart, for the y label and tick labels of
# up to five digits on the left.
STATUS_MARGINS: dict[str, float] = {
    "left": 0.075,
    "right": 0.985,
    "top": 0.87,
    "bottom": 0.075,
}
# A bar label is at most MAX_LABEL_CHARS of name plus " (" + 6 id
# characters + ")": about 350 px at the tick font size (37 characters of
# DejaVu Sans at 12 pt, measured on the bench data). So each column of the
# leaderboard keeps about 370 px on its left for labels, and the gap
# between columns also fits the left column's values, which can reach
# 25 px past its axes.
LEADERBOARD_MARGINS: dict[str, float] = {
    "left": 0.31,
    "right": 0.96,
    "top": 0.87,
    "bottom": 0.07,
    # Gaps between subplots, as fractions of the mean axes width and height.
    "wspace": 1.95,
    "hspace": 0.4,
}


def status_chart(report: TeamReport) -> bytes:
    """Draw experiments created per week (or day) as bars stacked by status."""
    figure = _figure_only(STATUS_MARGINS)
    axes = figure.add_subplot(1, 1, 1)
    slices = "day" if report.period.kind == "week" else "week"
    positions = range(len(report.buckets))
    bottoms = [0] * len(report.buckets)
    for status in STATUS_ORDER:
        heights = [bucket.counts.get(status, 0) for bucket in report.buckets]
        axes.bar(
            positions,
            heights,
            bottom=bottoms,
            color=STYLE["status_colors"][status],
            label=status,
            width=0.6,
        )
        bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]

    for position, total in zip(positions, bottoms, strict=True):
        if total:
            axes.annotate(
                str(total),
                (position, total),
                ha="center",
                va="bottom",
                xytext=(0, 4),
                textcoords="offset points",
                fontsize=STYLE["font_size"],
                color=STYLE["text"],
            )
    axes.set_xticks(list(positions), [bucket.label for bucket in report.buckets])
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylim(0, max([*bottoms, 1]) * 1.15)
    axes.set_ylabel("experiments created", fontsize=STYLE["font_size"])
    axes.legend(frameon=False, fontsize=STYLE["font_size"], ncols=4, loc="upper left")
    _style_axes(axes)
    _title(
        figure,
        f"{report.team}: experiments created per {slices}, {report.period.title}",
        "stacked by status at the period's end"
        if report.complete
        else "stacked by status so far",
    )
    return _png(figure)


def leaderboard_chart(report: TeamReport) -> bytes | None:
    """Draw the best experiments on the team's main metrics, best on top.

    Returns None when no completed experiment reported a metric.
    """
    metrics = report.best[:MAX_CHART_METRICS]
    if not metrics:
        return None
    figure = _figure_only(LEADERBOARD_MARGINS)
    columns = 1 if len(metrics) == 1 else 2
    rows = (len(metrics) + columns - 1) // columns
    for index, metric in enumerate(metrics):
        axes = figure.add_subplot(rows, columns, index + 1)
        leaders = list(metric.leaders)
        labels = [_label(leader.name, leader.experiment_id) for leader in leaders]
        values = [leader.value for leader in leaders]
        colors = [STYLE["best_color"]] + [STYLE["bar_color"]] * (len(leaders) - 1)
        # barh draws the first item at the bottom; reverse to put the best on top.
        axes.barh(labels[::-1], values[::-1], color=colors[::-1], height=0.6)
        for position, value in enumerate(values[::-1]):
            axes.annotate(
                format_metric(value),
                (value, position),
                xytext=(4, 0),
                textcoords="offset points",
                va="center",
                fontsize=STYLE["font_size"] - 2,
                color=STYLE["text"],
            )
        axes.set_title(
            f"{metric.metric} ({direction_text(metric.direction)})",
            fontsize=STYLE["font_size"],
            color=STYLE["text"],
            loc="left",
        )
        axes.margins(x=0.2)
        _style_axes(axes, grid_axis="x")
    _title(
        figure,
        f"{report.team}: best completed experiments, {report.period.title}",
        "",
    )
    return _png(figure)


def render_charts(report: TeamReport) -> list[tuple[str, bytes]]:
    """Return (file name, PNG bytes) for every chart the report has data for."""
    label = report.period.label
    charts = [(f"{report.team}-{label}-status.png", status_chart(report))]
    leaderboard = leaderboard_chart(report)
    if leaderboard is not None:
        charts.append((f"{report.team}-{label}-leaderboard.png", leaderboard))
    return [(_file_name(name), data) for name, data in charts]


def _figure_only(margins: dict[str, float]) -> Figure:
    figure = Figure(
        figsize=STYLE["size_inches"],
        dpi=STYLE["dpi"],
        facecolor=STYLE["background"],
    )
    figure.subplots_adjust(**margins)
    FigureCanvasAgg(figure)
    return figure


def _title(figure: Figure, text: str, subtitle: str) -> None:
    heading = text if not subtitle else f"{text}\n{subtitle}"
    figure.suptitle(
        heading, fontsize=STYLE["title_size"], color=STYLE["text"], x=0.01, ha="left"
    )


def _style_axes(axes: Axes, grid_axis: Literal["x", "y"] = "y") -> None:
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        axes.spines[side].set_color(STYLE["grid"])
    axes.tick_params(labelsize=STYLE["font_size"] - 1, colors=STYLE["muted"])
    axes.grid(axis=grid_axis, color=STYLE["grid"], linewidth=0.8)
    axes.set_axisbelow(True)


def _label(name: str, experiment_id: str) -> str:
    # The id keeps two runs with the same name apart.
    if len(name) > MAX_LABEL_CHARS:
        name = name[: MAX_LABEL_CHARS - 3] + "..."
    return f"{name} ({experiment_id[:6]})"


def _file_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=STYLE["dpi"])
    return buffer.getvalue()
