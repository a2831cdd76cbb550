"""The six search questions, phrased for expbot, for MLflow and in Python.

Each question carries its expbot query, the MLflow `search_runs` arguments
with the same meaning, and a Python predicate over the workload, which is
the reference both sides are checked against. Both sides fetch the same
page size.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from bench.workload import ExperimentSpec, organization

PAGE_SIZE = 50
TOP_SIZE = 10

# The experiment's lifecycle status as MLflow names it.
MLFLOW_STATUS = {
    "completed": "FINISHED",
    "failed": "FAILED",
    "cancelled": "KILLED",
    "running": "RUNNING",
}


@dataclass(frozen=True)
class Question:
    key: str
    title: str
    expbot_query: str
    mlflow_filter: str
    # A project name to search that MLflow experiment only; None searches all.
    mlflow_project: str | None
    mlflow_order_by: tuple[str, ...]
    limit: int
    matches: Callable[[ExperimentSpec], bool]
    # Sort key of the reference result, smallest first.
    order: Callable[[ExperimentSpec], float]

    def expected_names(self, specs: list[ExperimentSpec]) -> list[str]:
        found = sorted((s for s in specs if self.matches(s)), key=self.order)
        return [s.name for s in found[: self.limit]]

    def total(self, specs: list[ExperimentSpec]) -> int:
        return sum(1 for s in specs if self.matches(s))


def epoch_ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


def _newest_first(spec: ExperimentSpec) -> float:
    return -spec.created.timestamp()


def questions() -> list[Question]:
    org = organization()
    range_project = org.projects["nlp"][0]
    top_project = org.projects["vision"][1]
    researcher = org.researchers["speech"][0]
    since = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    # `until:2025-03-31` includes that whole day.
    before = dt.datetime(2025, 4, 1, tzinfo=dt.UTC)
    return [
        Question(
            key="tag_status",
            title="tag and status",
            expbot_query="tag:ablation status:completed",
            mlflow_filter="tags.ablation = 'true' AND attributes.status = 'FINISHED'",
            mlflow_project=None,
            mlflow_order_by=(),
            limit=PAGE_SIZE,
            matches=lambda s: "ablation" in s.tags and s.status == "completed",
            order=_newest_first,
        ),
        Question(
            key="metric_team",
            title="metric threshold and team",
            expbot_query="accuracy>0.9 team:vision",
            mlflow_filter="metrics.accuracy > 0.9 AND tags.team = 'vision'",
            mlflow_project=None,
            mlflow_order_by=(),
            limit=PAGE_SIZE,
            matches=lambda s: s.final["accuracy"] > 0.9 and s.team == "vision",
            order=_newest_first,
        ),
        Question(
            key="free_text",
            title="free text in the name",
            expbot_query='"pruning"',
            mlflow_filter="attributes.run_name LIKE '%pruning%'",
            mlflow_project=None,
            mlflow_order_by=(),
            limit=PAGE_SIZE,
            matches=lambda s: "pruning" in s.name,
            order=_newest_first,
        ),
        Question(
            key="date_project",
            title="date range and project",
            expbot_query=f"since:2025-01-01 until:2025-03-31 project:{range_project}",
            mlflow_filter=(
                f"attributes.start_time >= {epoch_ms(since)} "
                f"AND attributes.start_time < {epoch_ms(before)}"
            ),
            mlflow_project=range_project,
            mlflow_order_by=(),
            limit=PAGE_SIZE,
            matches=lambda s: (
                s.project == range_project and since <= s.created < before
            ),
            order=_newest_first,
        ),
        Question(
            key="best_in_project",
            title="best 10 by accuracy in a project",
            expbot_query=f"project:{top_project} sort:accuracy",
            mlflow_filter="",
            mlflow_project=top_project,
            mlflow_order_by=("metrics.accuracy DESC",),
            limit=TOP_SIZE,
            matches=lambda s: s.project == top_project,
            order=lambda s: -s.final["accuracy"],
        ),
        Question(
            key="researcher",
            title="everything by one researcher",
            expbot_query=f"by:{researcher}",
            mlflow_filter=f"tags.researcher = '{researcher}'",
            mlflow_project=None,
            mlflow_order_by=(),
            limit=PAGE_SIZE,
            matches=lambda s: s.researcher == researcher,
            order=_newest_first,
        ),
    ]
