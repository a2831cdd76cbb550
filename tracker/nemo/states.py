"""NeMo Run task states and what they mean for an expbot experiment.

States are torchx `AppState` names as NeMo Run 0.11.1 reports them:
UNSUBMITTED, SUBMITTED, PENDING, RUNNING, SUCCEEDED, FAILED, CANCELLED and
UNKNOWN; only SUCCEEDED, FAILED and CANCELLED are final. Nothing here
imports nemo_run.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

FINAL_STATES = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})
WAITING_STATES = frozenset({"UNSUBMITTED", "SUBMITTED", "PENDING"})
MAX_LOG_LINE_CHARS = 300


@dataclass(frozen=True)
class TaskStatus:
    """One task's state as `Experiment.status(return_dict=True)` reports it."""

    name: str
    state: str
    executor: str = ""
    local_dir: str = ""
    job_id: str = ""

    @property
    def finished(self) -> bool:
        return self.state in FINAL_STATES

    @classmethod
    def from_nemo(cls, name: str, info: Mapping[str, Any]) -> TaskStatus:
        """Build from one entry of NeMo Run's status dict (state is an AppState)."""
        state = info.get("status")
        return cls(
            name=name,
            state=getattr(state, "name", str(state or "UNKNOWN")),
            executor=str(info.get("executor") or ""),
            local_dir=str(info.get("local_dir") or ""),
            job_id=str(info.get("job_id") or ""),
        )

    def to_dict(self) -> dict[str, str]:
        return {
            "name": self.name,
            "state": self.state,
            "executor": self.executor,
            "local_dir": self.local_dir,
            "job_id": self.job_id,
        }


@dataclass(frozen=True)
class Outcome:
    """The expbot status that a set of finished tasks adds up to."""

    status: str  # "completed", "failed" or "cancelled"
    reason: str


def outcome(tasks: Iterable[TaskStatus]) -> Outcome | None:
    """Return the experiment's outcome, or None while a task is unfinished.

    Any failed task fails the experiment, naming each failed task, its log
    file and the log's last line; otherwise any cancelled task cancels it.
    A task left in UNKNOWN counts as failed, because nothing will change it.
    """
    tasks = list(tasks)
    if not tasks:
        return Outcome("cancelled", "The NeMo Run experiment has no tasks.")
    if any(t.state not in FINAL_STATES | {"UNKNOWN"} for t in tasks):
        return None

    failed = [t for t in tasks if t.state in ("FAILED", "UNKNOWN")]
    if failed:
        return Outcome("failed", " ".join(failure_reason(t) for t in failed))
    cancelled = [t.name for t in tasks if t.state == "CANCELLED"]
    if cancelled:
        names = ", ".join(f"`{name}`" for name in cancelled)
        return Outcome("cancelled", f"NeMo Run task {names} was cancelled.")
    return Outcome("completed", "")


def failure_reason(task: TaskStatus) -> str:
    verb = "failed" if task.state == "FAILED" else "ended in state UNKNOWN"
    log_file = task_log_file(task)
    if log_file is None:
        return f"Task `{task.name}` {verb}; its directory is {task.local_dir or '?'}."
    last_line = last_log_line(log_file)
    detail = f" ({last_line})" if last_line else ""
    return f"Task `{task.name}` {verb}{detail}; log: {log_file}."


def task_log_file(task: TaskStatus) -> Path | None:
    """Find the task's log: torchx's combined.log, else a Slurm-style log*.out."""
    if not task.local_dir:
        return None
    directory = Path(task.local_dir)
    if task.job_id:
        combined = sorted(
            (directory / "nemo_run" / task.job_id).glob("*/*/combined.log")
        )
        if combined:
            return combined[0]
    for pattern in ("nemo_run/*/*/*/combined.log", "log*.out"):
        found = sorted(directory.glob(pattern))
        if found:
            return found[-1]
    return None


def last_log_line(path: Path) -> str:
    """Return the log's last non-blank line, usually the exception."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, 2)
            handle.seek(max(0, handle.tell() - 8192))
            tail = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    lines = [line.strip() for line in tail.splitlines() if line.strip()]
    return lines[-1][:MAX_LOG_LINE_CHARS] if lines else ""


def local_end_time(task: TaskStatus) -> dt.datetime | None:
    """Return when a local task ended, from the SUCCESS file torchx writes.

    torchx's local scheduler writes `SUCCESS` in the task's log directory
    when it closes the task, whatever the final state, with the time as
    `last_updated` in seconds since the epoch.
    """
    if not task.local_dir or not task.job_id:
        return None
    marker = Path(task.local_dir) / "nemo_run" / task.job_id / "SUCCESS"
    try:
        stamp = json.loads(marker.read_text())["last_updated"]
        return dt.datetime.fromtimestamp(float(stamp), dt.UTC)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def end_time(tasks: Iterable[TaskStatus], default: dt.datetime) -> dt.datetime:
    """Return the latest known task end time, or `default` if none is known."""
    times = [t for t in (local_end_time(task) for task in tasks) if t is not None]
    return max(times, default=default)
