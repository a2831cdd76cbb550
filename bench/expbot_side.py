"""expbot's side: write the workload and ask the questions via `Tracker`.

Everything goes through the public Python API. A manual clock, passed as
`Tracker(clock=...)`, sets each experiment's created, metric and end times
from the workload, so the data spans 24 months as a real team's would.
"""

from __future__ import annotations

import datetime as dt
import logging

from bench.questions import Question
from bench.workload import STEPS, WORKLOAD_START, ExperimentSpec
from tracker.api import Tracker

logger = logging.getLogger(__name__)


class ManualClock:
    """A clock that returns whatever time it was last set to."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now


class ExpbotSide:
    name = "expbot"

    def __init__(self, database_url: str) -> None:
        self.clock = ManualClock(WORKLOAD_START)
        self.tracker = Tracker(database_url, clock=self.clock)

    def close(self) -> None:
        self.tracker.close()

    def write(
        self, spec: ExperimentSpec, *, history: bool = True, batched: bool = False
    ) -> None:
        """Record one experiment as a training script would.

        With `history`, every step's metrics are logged one call per step,
        or with `batched`, all steps in one `log_metrics_batch` call. Without
        `history`, only the last step's are, by `complete` where the
        experiment completes; the rows beyond the write-throughput sample
        are loaded that way.
        """
        self.clock.now = spec.created
        record = self.tracker.track(
            spec.name,
            description=spec.description,
            config=spec.config,
            tags=spec.tags,
            team=spec.team,
            project=spec.project,
            researcher=spec.researcher,
            capture=False,
        )
        if not history and spec.status == "completed":
            # `complete` records the final metrics itself: one call fewer.
            self.clock.now = spec.ended or spec.created
            self.tracker.complete(record.id, spec.final)
            return
        if history and batched:
            # A buffered loop flushes after its last step.
            self.clock.now = spec.step_time(STEPS - 1)
            batch = [(step, spec.points[step]) for step in range(STEPS)]
            self.tracker.log_metrics_batch(record.id, batch)
        else:
            steps = range(STEPS) if history else [STEPS - 1]
            for step in steps:
                self.clock.now = spec.step_time(step)
                self.tracker.log_metrics(record.id, spec.points[step], step=step)
        self._end(record.id, spec)

    def _end(self, experiment_id: str, spec: ExperimentSpec) -> None:
        if spec.ended is None:
            return
        self.clock.now = spec.ended
        if spec.status == "completed":
            self.tracker.complete(experiment_id)
        elif spec.status == "failed":
            self.tracker.fail(experiment_id, spec.reason)
        else:
            self.tracker.cancel(experiment_id, spec.reason)

    def search(self, question: Question) -> list[str]:
        found = self.tracker.search(question.expbot_query, limit=question.limit)
        return [record.name for record in found]

    def count(self, question: Question) -> int:
        return self.tracker.count(question.expbot_query)
