"""Spot NeMo Run task states that will never change on their own.

NeMo Run 0.11.1 stores a local task's state in `.local_jobs.json` only when
the launching process polls it. If that process dies, the task stays
PENDING or RUNNING forever, even after its own process has ended. Jobs on remote
executors can likewise sit in SUBMITTED or PENDING for days. Such states
are flagged for a person to look at, never turned into an outcome.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tracker.nemo.layout import ExperimentDir, TaskInfo
from tracker.nemo.states import WAITING_STATES, TaskStatus

DEFAULT_WAITING_LIMIT = dt.timedelta(days=2)


@dataclass(frozen=True)
class Host:
    """The machine the sync runs on: its name and its processes' command lines.

    `commands` is None where the process table cannot be read (no /proc).
    """

    name: str
    commands: Sequence[str] | None

    @classmethod
    def this_machine(cls) -> Host:
        return cls(socket.gethostname(), process_commands())


def stale_reason(
    experiment: ExperimentDir,
    status: TaskStatus,
    *,
    now: dt.datetime,
    host: Host,
    waiting_limit: dt.timedelta = DEFAULT_WAITING_LIMIT,
) -> str:
    """Return why the task's state cannot be trusted, or "" if it can."""
    if status.finished:
        return ""
    if status.executor == "LocalExecutor":
        info = _task_info(experiment, status.name)
        reason = _orphan_reason(experiment, status, info, host)
        if reason:
            return reason
    waited = now - experiment.started_at
    if status.state in WAITING_STATES and waited > waiting_limit:
        since = experiment.started_at.strftime("%Y-%m-%d %H:%M UTC")
        return (
            f"Task `{status.name}` has been {status.state} since {since} "
            f"({waited.days} days); check it on its cluster."
        )
    return ""


def _orphan_reason(
    experiment: ExperimentDir, status: TaskStatus, info: TaskInfo | None, host: Host
) -> str:
    """Explain a local task whose launcher is gone; its state is then frozen.

    The launcher is known when the task was launched under expbot. For
    other experiments the test is weaker: no process on this machine has
    the experiment's directory on its command line.
    """
    frozen = f"so NeMo Run will report it {status.state} forever."
    if info is not None and info.launcher_pid is not None:
        if info.launcher_host != host.name or process_alive(info.launcher_pid):
            return ""
        return (
            f"Task `{status.name}` is {status.state} but its launcher, process "
            f"{info.launcher_pid} on {info.launcher_host}, is gone, {frozen}"
        )
    if host.commands is None:
        return ""
    directory = str(experiment.path)
    if any(directory in command for command in host.commands):
        return ""
    return (
        f"Task `{status.name}` is {status.state} but no process on {host.name} "
        f"runs it, {frozen}"
    )


def _task_info(experiment: ExperimentDir, name: str) -> TaskInfo | None:
    return next((task for task in experiment.tasks if task.name == name), None)


def process_alive(pid: int) -> bool:
    """Return whether a process with this pid exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    # The state letter follows the parenthesised command name.
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def process_commands() -> list[str] | None:
    """Return the command line of every process on this machine, via /proc."""
    proc = Path("/proc")
    if not (proc / "self" / "cmdline").exists():
        return None
    commands = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        commands.append(raw.replace(b"\0", b" ").decode("utf-8", errors="replace"))
    return commands
