"""Bring NeMo Run experiments on disk into expbot (`expbot nemo sync`).

Experiments that expbot does not record yet are imported. Those it
records as running get their tasks' current states, and end once every
task has ended. States that NeMo Run will never update are flagged in the
custom field `nemo_stale` and in a note, and the experiment stays running.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import pwd
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tracker.api import Tracker
from tracker.errors import ExpbotError
from tracker.nemo.layout import (
    BrokenExperiment,
    ExperimentDir,
    find_experiment_dirs,
    nemo_home,
    read_experiment,
)
from tracker.nemo.records import (
    SYNC_AUTHOR,
    KnownExperiment,
    finish,
    known_experiments,
    task_states,
)
from tracker.nemo.stale import DEFAULT_WAITING_LIMIT, Host, stale_reason
from tracker.nemo.states import TaskStatus, end_time, outcome
from tracker.nemo.sync_worker import EXIT_NEMO_MISSING

logger = logging.getLogger(__name__)

DEFAULT_WORKER_TIMEOUT_SECONDS = 300


class SyncFailed(ExpbotError):
    """The NeMo Run status check as a whole could not run."""


@dataclass
class SyncResult:
    """NeMo Run experiment ids by what the sync did with them."""

    imported: list[str] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    unchanged: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        return (
            f"{len(self.imported)} imported, {len(self.finished)} finished, "
            f"{len(self.stale)} stale, {len(self.skipped)} skipped, "
            f"{self.unchanged} unchanged"
        )


def sync(
    tracker: Tracker,
    home: str | os.PathLike[str] | None = None,
    *,
    team: str | None = None,
    waiting_limit: dt.timedelta = DEFAULT_WAITING_LIMIT,
    timeout: float = DEFAULT_WORKER_TIMEOUT_SECONDS,
) -> SyncResult:
    """Import and update the experiments under NEMORUN_HOME (`home`).

    A half-written or unreadable experiment directory is skipped with a
    warning naming it; the others still sync. Imported experiments go to
    `team` (default `$EXPBOT_TEAM`).
    """
    result = SyncResult()
    found = _scan(home, result)
    known = known_experiments(tracker, [experiment.id for experiment in found])
    pending = [e for e in found if e.id not in known or known[e.id].status == "running"]
    result.unchanged = len(found) - len(pending)
    if not pending:
        return result

    statuses = read_task_statuses(
        nemo_home(home), [e.id for e in pending], timeout=timeout
    )
    host = Host.this_machine()
    for experiment in pending:
        answer = statuses.get(experiment.id, {"error": "no answer from the worker"})
        if "error" in answer:
            _skip(
                result,
                experiment.path,
                f"NeMo Run could not read experiment {experiment.path}: "
                f"{answer['error']}",
            )
            continue
        tasks = [TaskStatus(**task) for task in answer["tasks"]]
        try:
            recorded = known.get(experiment.id)
            if recorded is None:
                recorded = _import(tracker, experiment, team)
                result.imported.append(experiment.id)
            _update(tracker, experiment, recorded, tasks, host, waiting_limit, result)
        except ExpbotError as exc:
            _skip(result, experiment.path, f"Syncing {experiment.path} failed: {exc}")
    return result


def _scan(
    home: str | os.PathLike[str] | None, result: SyncResult
) -> list[ExperimentDir]:
    found = []
    for path in find_experiment_dirs(home):
        try:
            found.append(read_experiment(path))
        except BrokenExperiment as exc:
            _skip(result, path, str(exc))
    return found


def _skip(result: SyncResult, path: Path, reason: str) -> None:
    """Record a skipped experiment; `reason` names its directory."""
    logger.warning("skipped: %s", reason)
    result.skipped[path.name] = reason


def _update(
    tracker: Tracker,
    experiment: ExperimentDir,
    recorded: KnownExperiment,
    tasks: list[TaskStatus],
    host: Host,
    waiting_limit: dt.timedelta,
    result: SyncResult,
) -> None:
    """Record the task states, flag stale ones, and end the experiment if due."""
    now = tracker.clock()
    reasons = [
        stale_reason(experiment, task, now=now, host=host, waiting_limit=waiting_limit)
        for task in tasks
    ]
    stale = " ".join(reason for reason in reasons if reason) or None
    custom = {"nemo_task_states": task_states(tasks), "nemo_stale": stale}
    changed = any(recorded.custom.get(key) != value for key, value in custom.items())
    if changed:
        tracker.update(recorded.id, custom=custom)
    if stale and stale != recorded.custom.get("nemo_stale"):
        tracker.add_note(recorded.id, stale, author=SYNC_AUTHOR, as_admin=True)
        result.stale.append(experiment.id)

    ended = outcome(tasks)
    if ended is not None and finish(tracker, recorded.id, ended, end_time(tasks, now)):
        result.finished.append(experiment.id)
    elif not changed:
        result.unchanged += 1


def _import(
    tracker: Tracker, experiment: ExperimentDir, team: str | None
) -> KnownExperiment:
    custom = {**experiment.custom_fields(), "nemo_imported": True}
    record = tracker.track(
        experiment.title,
        config=experiment.config_summary(),
        team=team,
        researcher=_owner(experiment.path),
        source="nemo_run",
        custom=custom,
        # The sync process's git state and command line do not describe how
        # the experiment was launched.
        capture=False,
        started_at=experiment.started_at,
    )
    logger.info("imported NeMo Run experiment %s as %s", experiment.id, record.id)
    return KnownExperiment(record.id, record.status, record.custom)


def _owner(path: Path) -> str | None:
    """Return the user who owns the directory, as the experiment's researcher."""
    try:
        return pwd.getpwuid(path.stat().st_uid).pw_name
    except (KeyError, OSError):
        return None


def read_task_statuses(
    home: Path, experiment_ids: list[str], *, timeout: float
) -> dict[str, dict[str, Any]]:
    """Ask NeMo Run for each experiment's task states, in a child process."""
    command = [sys.executable, "-m", "tracker.nemo.sync_worker", "--home", str(home)]
    try:
        completed = subprocess.run(
            command,
            input=json.dumps(experiment_ids),
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "NEMORUN_HOME": str(home)},
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise SyncFailed(
            f"Reading NeMo Run task states timed out after {timeout:g} s for "
            f"{len(experiment_ids)} experiments; raise the timeout or check "
            "that the executors' clusters can be reached."
        ) from exc
    if completed.returncode == EXIT_NEMO_MISSING:
        raise SyncFailed(
            f"nemo_run is not installed for {sys.executable}: install the "
            "`nemo` extra, `pip install 'expbot[nemo]'`."
        )
    lines = completed.stdout.strip().splitlines()
    if completed.returncode != 0 or not lines:
        error = completed.stderr.strip().splitlines()[-1:] or ["no output"]
        raise SyncFailed(
            f"Reading NeMo Run task states failed (exit status "
            f"{completed.returncode}): {error[0]}"
        )
    statuses: dict[str, dict[str, Any]] = json.loads(lines[-1])
    return statuses


def scheduled_sync(home: str | None = None) -> None:
    """Run one sync against the default database, for the bot's scheduler.

    A module-level function with plain arguments, so APScheduler can
    store the job by reference.
    """
    tracker = Tracker()
    try:
        result = sync(tracker, home)
    except ExpbotError:
        logger.exception("NeMo Run sync failed")
        return
    finally:
        tracker.close()
    logger.info("NeMo Run sync: %s", result.summary())
