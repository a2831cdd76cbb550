"""The experiment of a `with tracker.run(...)` block."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from tracker.records import ExperimentRecord

if TYPE_CHECKING:
    from tracker.api import Tracker

# The run of the innermost `with tracker.run(...)` block in this context.
_active: ContextVar[Run | None] = ContextVar("expbot_active_run", default=None)


def active_run() -> Run | None:
    return _active.get()


def activate(run: Run) -> Any:
    """Make `run` the active one; pass the result to `deactivate`."""
    return _active.set(run)


def deactivate(token: Any) -> None:
    _active.reset(token)


class Run:
    """The experiment of a `with tracker.run(...)` block."""

    def __init__(self, tracker: Tracker, experiment_id: str) -> None:
        self.tracker = tracker
        self.id = experiment_id

    @property
    def experiment(self) -> ExperimentRecord:
        return self.tracker.get(self.id)

    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        self.tracker.log_metrics(self.id, metrics, step=step)

    def log_metrics_batch(
        self, steps: Iterable[tuple[int | None, Mapping[str, Any]]]
    ) -> None:
        """Log several `(step, {metric: value})` pairs in one transaction."""
        self.tracker.log_metrics_batch(self.id, steps)

    def log_metric(self, key: str, value: float, step: int | None = None) -> None:
        self.tracker.log_metrics(self.id, {key: value}, step=step)

    def note(self, text: str) -> None:
        self.tracker.add_note(self.id, text)

    def tag(self, *tags: str) -> None:
        self.tracker.tag(self.id, add=tags)

    def set_config(self, config: Mapping[str, Any]) -> None:
        self.tracker.update(self.id, config=config)

    def fail(self, reason: str = "") -> None:
        self.tracker.fail(self.id, reason)

    def cancel(self, reason: str = "") -> None:
        self.tracker.cancel(self.id, reason)
