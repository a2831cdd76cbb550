"""expbot figures with no MLflow counterpart: team summary and monthly report.

The report is timed with its charts when a chart renderer can be found.
Parts that are not importable yet are skipped and reported as "n/a" with
the reason, so the harness runs against a partial tree.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from typing import Any

from bench.timing import Stats, measure
from bench.workload import TEAMS, WORKLOAD_END
from tracker.api import Tracker

logger = logging.getLogger(__name__)

# The last full month of the workload.
REPORT_YEAR = WORKLOAD_END.year if WORKLOAD_END.month > 1 else WORKLOAD_END.year - 1
REPORT_MONTH = WORKLOAD_END.month - 1 if WORKLOAD_END.month > 1 else 12
REPORT_TEAM = TEAMS[0]

# Where a renderer of the monthly report's PNG charts may live, as
# (module, function); the first that imports is used.
_CHART_RENDERERS = (
    ("bot.charts", "render_report_charts"),
    ("bot.reports.charts", "render_report_charts"),
    ("tracker.charts", "render_report_charts"),
    ("bot.views.charts", "render_report_charts"),
)


def measure_summary(tracker: Tracker, repeat: int) -> Stats | str:
    try:
        return measure(lambda: tracker.summary(team=REPORT_TEAM), repeat)
    except ImportError as exc:
        return f"n/a ({exc})"


def measure_report(tracker: Tracker, repeat: int) -> dict[str, Stats | str]:
    """Time the monthly report's figures, and figures plus charts."""
    try:
        importlib.import_module("tracker.reports")
    except ImportError as exc:
        reason = f"n/a ({exc})"
        return {"report": reason, "report_charts": reason}

    def build() -> Any:
        return tracker.report(REPORT_TEAM, REPORT_YEAR, REPORT_MONTH)

    figures: dict[str, Stats | str] = {"report": measure(build, repeat)}
    renderer = _chart_renderer()
    if isinstance(renderer, str):
        figures["report_charts"] = renderer
    else:
        figures["report_charts"] = measure(lambda: renderer(build()), repeat)
    return figures


def _chart_renderer() -> Callable[[Any], Any] | str:
    for module_name, function_name in _CHART_RENDERERS:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        function = getattr(module, function_name, None)
        if callable(function):
            return function
    return "n/a (no chart renderer importable)"
