"""expbot figures with no MLflow counterpart: team summary and monthly report.

The report is timed twice: its figures alone, and figures plus the PNG
charts it posts. Parts that are not importable are reported as "n/a" with
the reason.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from bench.timing import Stats, measure
from bench.workload import TEAMS, WORKLOAD_END
from tracker.api import Tracker
from tracker.errors import ExpbotError

logger = logging.getLogger(__name__)

# The last full month of the workload.
REPORT_YEAR = WORKLOAD_END.year if WORKLOAD_END.month > 1 else WORKLOAD_END.year - 1
REPORT_MONTH = WORKLOAD_END.month - 1 if WORKLOAD_END.month > 1 else 12
REPORT_TEAM = TEAMS[0]


def measure_summary(tracker: Tracker, repeat: int, warmup: int) -> Stats | str:
    try:
        return measure(lambda: tracker.summary(team=REPORT_TEAM), repeat, warmup)
    except (ImportError, ExpbotError) as exc:
        logger.warning("summary failed: %s", exc)
        return f"n/a ({exc})"


def measure_report(
    tracker: Tracker, repeat: int, warmup: int
) -> dict[str, Stats | str]:
    """Time the monthly report's figures, and figures plus charts."""
    try:
        importlib.import_module("tracker.reports")
    except ImportError as exc:
        reason = f"n/a ({exc})"
        return {"report": reason, "report_charts": reason}

    def build() -> Any:
        return tracker.report(REPORT_TEAM, REPORT_YEAR, REPORT_MONTH)

    try:
        figures: dict[str, Stats | str] = {"report": measure(build, repeat, warmup)}
    except ExpbotError as exc:
        logger.warning("monthly report failed: %s", exc)
        return {"report": f"n/a ({exc})", "report_charts": f"n/a ({exc})"}
    try:
        from tracker.charts import render_charts
    except ImportError as exc:
        figures["report_charts"] = f"n/a ({exc})"
        return figures
    figures["report_charts"] = measure(lambda: render_charts(build()), repeat, warmup)
    return figures
